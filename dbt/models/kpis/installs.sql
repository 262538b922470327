{{
    config(
        unique_key='user_id',
        incremental_strategy='merge',
    )
}}

{#- The first UTC day each user is seen active. Once set it never moves later: only a backfill that finds
    earlier activity moves an install day (earlier). -#}

{{ cadence.user_activity_bound('min', 'install_date') }}
