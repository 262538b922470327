{{ config(materialized='view') }}

{#- One row per event id: the latest delivery wins (a corrected re-upload of the same name has already
    replaced its bronze rows; a client retry or a split visit can deliver an event again under another file).
    Device and geo come from the event's visit. -#}
{%- set lake = source('telemetry_bronze', 'telemetry_events') -%}

with

bronze as (

    select *
    from {{ cadence.relation_or_empty(lake, {
        'event_id': dbt.type_string(), 'visit_id': dbt.type_string(), 'user_id': dbt.type_string(),
        'device_id': dbt.type_string(), 'event_type': dbt.type_string(), 'client_ts': dbt.type_timestamp(),
        'event_time': dbt.type_timestamp(), 'screen': dbt.type_string(), 'level': dbt.type_bigint(),
        'level_result': dbt.type_string(), 'transaction_id': dbt.type_string(),
        'received_at': dbt.type_timestamp(), '_file': dbt.type_string(), '_line': dbt.type_bigint(),
        '_ingested_at': dbt.type_timestamp()
    }) }} as lake_rows

),

visits as (

    select * from {{ ref('stg_telemetry_visits') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by event_id order by received_at desc, _file desc, _line desc
        ) as delivery_rank
    from bronze

),

final as (

    select
        -- ids
        ranked.event_id,
        ranked.visit_id,
        ranked.user_id,
        ranked.device_id,

        -- what happened
        ranked.event_type,
        ranked.screen,
        ranked.level,
        ranked.level_result,
        ranked.transaction_id,

        -- the visit's device and geo
        visits.platform,
        visits.device_model,
        visits.app_version,
        visits.country,

        -- timestamps (UTC, event_time on the server clock)
        cast(ranked.event_time as {{ dbt.type_timestamp() }}) as event_time,
        cast(cast(ranked.event_time as {{ dbt.type_timestamp() }}) as date) as event_date,
        cast(ranked.client_ts as {{ dbt.type_timestamp() }}) as client_ts,
        cast(ranked.received_at as {{ dbt.type_timestamp() }}) as received_at,

        -- ingestion: the delivery that won
        ranked._file,
        ranked._line,
        cast(ranked._ingested_at as {{ dbt.type_timestamp() }}) as _ingested_at
    from ranked
    left join visits on ranked.visit_id = visits.visit_id
    where ranked.delivery_rank = 1

)

select * from final
