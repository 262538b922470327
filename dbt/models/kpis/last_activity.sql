{{
    config(
        materialized='incremental',
        unique_key='user_id',
        incremental_strategy='merge',
        tags=['kpis'],
        on_schema_change='fail',
    )
}}

{#- The last UTC day each user was active. A run compares the last day in its window with the stored one
    and keeps the later, so a backfill of old days never moves it back. -#}

{%- set window = cadence.kpis_window() %}

with

panel as (

    select user_id, activity_date
    from {{ ref('daily_user_panel') }}
    where {{ cadence.kpis_days_between('activity_date', window) }}

),

last_seen as (

    select user_id, max(activity_date) as last_activity
    from panel
    group by user_id

),

{% if is_incremental() %}
stored as (

    select user_id, last_activity
    from {{ this }}
    where user_id in (select user_id from last_seen)

),
{% endif %}

candidates as (

    select * from last_seen
    {% if is_incremental() %}
    union all
    select * from stored
    {% endif %}

),

final as (

    select
        user_id,
        max(last_activity) as last_activity
    from candidates
    group by user_id

)

select * from final
