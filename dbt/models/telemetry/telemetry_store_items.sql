{{ config(materialized='table') }}

{#- Store items per day: how often viewed and added to cart (and how many units added), ranked by each, so
    "most viewed" and "most added" are a filter on view_rank / add_rank. -#}

with

items as (

    select * from {{ ref('stg_telemetry_items') }}

),

per_item as (

    select
        event_date,
        sku,
        category,
        sum(case when event_type = 'item_view' then 1 else 0 end) as views,
        sum(case when event_type = 'add_to_cart' then 1 else 0 end) as adds,
        sum(case when event_type = 'add_to_cart' then quantity else 0 end) as added_quantity
    from items
    where event_type in ('item_view', 'add_to_cart')
    group by event_date, sku, category

),

final as (

    select
        *,
        rank() over (partition by event_date order by views desc) as view_rank,
        rank() over (partition by event_date order by adds desc) as add_rank
    from per_item

)

select * from final
