{{
    config(
        schema='ops',
        materialized='incremental',
        unique_key=['minute_start', 'scope'],
        incremental_strategy='merge',
        on_schema_change='fail',
    )
}}

{#- Events per minute (server clock): the total (scope 'all') and every device sending at least
    `telemetry_top_talker_events` events in the minute (scope 'device', the top talkers). Incrementally only
    the minutes holding an event ingested in this run are counted again, from all their events. -#}

{%- set top_talker = var('telemetry_top_talker_events', 100) | int -%}

with

events as (

    select
        *,
        {{ dbt.date_trunc('minute', 'event_time') }} as minute_start
    from {{ ref('stg_telemetry_events') }}

),

-- read by incremental runs only (hence noqa ST03)
changed_minutes as (  -- noqa: ST03

    select distinct minute_start
    from events
    where {{ cadence.telemetry_ingested_in_window() }}

),

in_scope as (

    select * from events
    {% if is_incremental() %}
    where minute_start in (select minute_start from changed_minutes)
    {% endif %}

),

overall as (

    select
        minute_start,
        'all' as scope,
        cast(null as {{ dbt.type_string() }}) as device_id,
        count(*) as events,
        max(_ingested_at) as last_ingested_at
    from in_scope
    group by minute_start

),

devices as (

    select
        minute_start,
        'device' as scope,
        device_id,
        count(*) as events,
        max(_ingested_at) as last_ingested_at
    from in_scope
    group by minute_start, device_id
    having count(*) >= {{ top_talker }}

),

final as (

    select
        minute_start,
        case when scope = 'device' then {{ dbt.concat(["'device:'", "device_id"]) }} else scope end as scope,
        device_id,
        events,
        last_ingested_at
    from (
        select * from overall
        union all
        select * from devices
    ) as counted

)

select * from final
