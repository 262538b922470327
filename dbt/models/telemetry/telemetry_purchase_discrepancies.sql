{{ config(materialized='table') }}

{#- Telemetry sales reconciled with the backend: for every user and day seen in telemetry, purchases and
    revenue the client reported vs the backend's transactions (silver purchases, every status: a refund does
    not undo the purchase event) of the same user and day. A purchase whose upload was lost (truncated file,
    quarantined line) shows as missing_in_telemetry. -#}

{%- set backend = cadence.relation_or_empty(api.Relation.create(
    database=target.database, schema='silver', identifier='purchases'), {
        'transaction_id': dbt.type_string(), 'user_id': dbt.type_string(),
        'revenue_usd': cadence.money_type(), 'purchased_at': dbt.type_timestamp()}) -%}

with

events as (

    select * from {{ ref('stg_telemetry_events') }}

),

items as (

    select * from {{ ref('stg_telemetry_items') }}

),

user_days as (

    select distinct user_id, event_date
    from events
    where user_id is not null

),

client as (

    select
        user_id,
        event_date,
        count(distinct event_id) as telemetry_purchases,
        sum(amount_usd) as telemetry_revenue_usd
    from items
    where event_type = 'purchase'
    group by user_id, event_date

),

server as (

    select
        user_id,
        cast(purchased_at as date) as event_date,
        count(*) as backend_purchases,
        sum(revenue_usd) as backend_revenue_usd
    from {{ backend }} as purchases
    group by user_id, cast(purchased_at as date)

),

joined as (

    select
        user_days.event_date,
        user_days.user_id,
        coalesce(client.telemetry_purchases, 0) as telemetry_purchases,
        coalesce(client.telemetry_revenue_usd, 0) as telemetry_revenue_usd,
        coalesce(server.backend_purchases, 0) as backend_purchases,
        coalesce(server.backend_revenue_usd, 0) as backend_revenue_usd
    from user_days
    left join client on user_days.user_id = client.user_id and user_days.event_date = client.event_date
    left join server on user_days.user_id = server.user_id and user_days.event_date = server.event_date

),

final as (

    select
        *,
        telemetry_revenue_usd - backend_revenue_usd as revenue_difference_usd,
        case
            when telemetry_purchases = backend_purchases and telemetry_revenue_usd = backend_revenue_usd
                then 'match'
            when telemetry_purchases < backend_purchases then 'missing_in_telemetry'
            when telemetry_purchases > backend_purchases then 'missing_in_backend'
            else 'amount_differs'
        end as status
    from joined
    where telemetry_purchases > 0 or backend_purchases > 0

)

select * from final
