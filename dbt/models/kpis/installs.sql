{{
    config(
        materialized='incremental',
        unique_key='user_id',
        incremental_strategy='merge',
        tags=['kpis'],
        on_schema_change='fail',
    )
}}

{#- The first UTC day each user is seen active. Once set it never moves later: a run compares the first
    day in its window with the stored one and keeps the earlier, so only a backfill that finds earlier
    activity moves an install day (earlier). -#}

{%- set window = cadence.kpis_window() %}

with

panel as (

    select user_id, activity_date
    from {{ ref('daily_user_panel') }}
    where {{ cadence.kpis_days_between('activity_date', window) }}

),

first_seen as (

    select user_id, min(activity_date) as install_date
    from panel
    group by user_id

),

{% if is_incremental() %}
stored as (

    select user_id, install_date
    from {{ this }}
    where user_id in (select user_id from first_seen)

),
{% endif %}

candidates as (

    select * from first_seen
    {% if is_incremental() %}
    union all
    select * from stored
    {% endif %}

),

final as (

    select
        user_id,
        min(install_date) as install_date
    from candidates
    group by user_id

)

select * from final
