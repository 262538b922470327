{{ config(materialized='view') }}

{#- One row per visit: the latest delivery of its header (uploads of a split visit repeat it). -#}
{%- set lake = source('telemetry_bronze', 'telemetry_visits') -%}

with

bronze as (

    select *
    from {{ cadence.relation_or_empty(lake, {
        'visit_id': dbt.type_string(), 'user_id': dbt.type_string(), 'device_id': dbt.type_string(),
        'platform': dbt.type_string(), 'device_model': dbt.type_string(), 'os_version': dbt.type_string(),
        'app_version': dbt.type_string(), 'country': dbt.type_string(), 'region': dbt.type_string(),
        'started_at': dbt.type_timestamp(), 'received_at': dbt.type_timestamp(), '_file': dbt.type_string(),
        '_line': dbt.type_bigint(), '_ingested_at': dbt.type_timestamp()
    }) }} as lake_rows

),

ranked as (

    select
        *,
        row_number() over (
            partition by visit_id order by received_at desc, _file desc, _line desc
        ) as delivery_rank
    from bronze

),

final as (

    select
        -- ids
        visit_id,
        user_id,
        device_id,

        -- device and geo
        lower(platform) as platform,
        device_model,
        os_version,
        app_version,
        upper(country) as country,
        region,

        -- timestamps (UTC, server clock)
        cast(started_at as {{ dbt.type_timestamp() }}) as started_at,
        cast(received_at as {{ dbt.type_timestamp() }}) as received_at,

        -- ingestion
        _file,
        cast(_ingested_at as {{ dbt.type_timestamp() }}) as _ingested_at
    from ranked
    where delivery_rank = 1

)

select * from final
