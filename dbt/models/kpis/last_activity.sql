{{
    config(
        unique_key='user_id',
        incremental_strategy='merge',
    )
}}

{#- The last UTC day each user was active; a backfill of old days never moves it back. -#}

{{ cadence.user_activity_bound('max', 'last_activity') }}
