{{ config(materialized='table') }}

{#- Screen views per day and screen, with the distinct users who viewed it. -#}

with

events as (

    select * from {{ ref('stg_telemetry_events') }}

),

final as (

    select
        event_date,
        screen,
        count(*) as views,
        count(distinct user_id) as users
    from events
    where event_type = 'screen_view'
    group by event_date, screen

)

select * from final
