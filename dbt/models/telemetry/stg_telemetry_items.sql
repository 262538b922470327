{{ config(materialized='view') }}

{#- The store items of each staged event, from the same delivery that won for the event. -#}
{%- set lake = source('telemetry_bronze', 'telemetry_event_items') -%}

with

bronze as (

    select *
    from {{ cadence.relation_or_empty(lake, {
        'event_id': dbt.type_string(), 'item_index': dbt.type_bigint(), 'sku': dbt.type_string(),
        'category': dbt.type_string(), 'quantity': dbt.type_bigint(), 'price_usd': cadence.double_type(),
        '_file': dbt.type_string(), '_line': dbt.type_bigint()
    }) }} as lake_rows

),

events as (

    select * from {{ ref('stg_telemetry_events') }}

),

final as (

    select
        -- ids
        bronze.event_id,
        bronze.item_index,
        events.user_id,

        -- the event
        events.event_type,
        events.event_date,
        events.event_time,

        -- the item
        bronze.sku,
        bronze.category,
        bronze.quantity,
        cast(bronze.price_usd as {{ cadence.money_type() }}) as price_usd,
        cast(bronze.price_usd as {{ cadence.money_type() }}) * bronze.quantity as amount_usd
    from bronze
    inner join events
        on bronze.event_id = events.event_id
        and bronze._file = events._file
        and bronze._line = events._line

)

select * from final
