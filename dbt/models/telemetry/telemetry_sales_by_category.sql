{{ config(materialized='table') }}

{#- Client-reported sales per day and item category (purchase events' items). -#}

with

items as (

    select * from {{ ref('stg_telemetry_items') }}

),

final as (

    select
        event_date,
        category,
        count(distinct event_id) as purchases,
        sum(quantity) as quantity,
        sum(amount_usd) as revenue_usd
    from items
    where event_type = 'purchase'
    group by event_date, category

)

select * from final
