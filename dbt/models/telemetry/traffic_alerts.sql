{{ config(schema='ops', materialized='table') }}

{#- The traffic rule over ops.traffic_minutes, thresholds from config (passed as vars by the telemetry DAG):
    - overall: a minute with at least `alert_min_events` events alerts when it reaches `alert_absolute`
      ('absolute') or `alert_factor` times the average of the `baseline_minutes` before it, minutes
      without events counting as zero ('deviation'); either part can be switched off (null);
    - device: one device sending `device_alert_events` or more events in a minute ('device').
    One row per alerting minute, scope and rule; last_ingested_at says which run made it known. -#}

{%- set baseline_minutes = var('telemetry_baseline_minutes', 60) | int -%}
{%- set absolute = var('telemetry_alert_absolute', 2000) -%}
{%- set factor = var('telemetry_alert_factor', 8.0) -%}
{%- set min_events = var('telemetry_alert_min_events', 300) | int -%}
{%- set device_events = var('telemetry_device_alert_events', 600) | int -%}
{%- set severity = var('telemetry_alert_severity', 'warn') -%}

with

minutes as (

    select
        *,
        cast({{ cadence.epoch_ms('minute_start') }} / 60000 as {{ dbt.type_bigint() }}) as minute_number  -- noqa: LT05
    from {{ ref('traffic_minutes') }}

),

overall as (

    select
        minute_start,
        scope,
        events,
        last_ingested_at,
        coalesce(
            sum(events) over (
                order by minute_number range between {{ baseline_minutes }} preceding and 1 preceding
            ),
            0
        ) / {{ baseline_minutes }}.0 as baseline
    from minutes
    where scope = 'all'

),

rules as (

    {% if absolute not in (none, '', 'None') %}
    select minute_start, scope, events, baseline, 'absolute' as rule,
        cast({{ absolute }} as {{ cadence.double_type() }}) as threshold, last_ingested_at
    from overall
    where events >= {{ min_events }} and events >= {{ absolute }}
    union all
    {% endif %}
    {% if factor not in (none, '', 'None') %}
    select minute_start, scope, events, baseline, 'deviation' as rule,
        {{ factor }} * baseline as threshold, last_ingested_at
    from overall
    where events >= {{ min_events }} and events >= {{ factor }} * baseline
    union all
    {% endif %}
    select minute_start, scope, events, cast(null as {{ cadence.double_type() }}) as baseline, 'device' as rule,
        cast({{ device_events }} as {{ cadence.double_type() }}) as threshold, last_ingested_at
    from minutes
    where scope <> 'all' and events >= {{ device_events }}

),

final as (

    select
        minute_start,
        scope,
        rule,
        events,
        baseline,
        threshold,
        '{{ severity }}' as severity,
        last_ingested_at
    from rules

)

select * from final
