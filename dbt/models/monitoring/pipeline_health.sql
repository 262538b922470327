{{
    config(
        unique_key=['checked_at', 'job', 'check_name'],
        incremental_strategy='merge',
        full_refresh=false,
        tags=['pipeline_health'],
    )
}}

{#- Pipeline health from the run log, as of the check time `health_reference` (the daily run's data
    interval end): for every expected job (var health_jobs, from MonitoringSettings.job_cadences) one row
    per check, healthy rows included.

    - freshness: lag from the end of the newest successful window to the check time; 'never_ran' without
      any successful window, 'stale' when the lag exceeds cadence x tolerance (stale_after_seconds).
    - last_run: the newest record (latest window end, then latest start) is 'failed'.
    - quarantine: share of extracted rows quarantined in windows ending in (health_since,
      health_reference]; 'over_limit' above max_quarantine_share; 'no_rows' when nothing was extracted.
    Only records with window_end <= the check time count, so re-checking a past day gives the same answer.
    full_refresh=false: past checks cannot be recomputed, so a full refresh keeps them. -#}

{%- set jobs = var('health_jobs', []) %}
{%- set reference = cadence.run_value('health_reference') or '1970-01-01 00:00:00' %}
{%- set since = cadence.run_value('health_since') or reference %}
{%- set double = cadence.double_type() %}
{%- set checked_at = cadence.utc_timestamp(reference) %}

with

run_log as (

    select
        job,
        window_end,
        status,
        rows_extracted,
        rows_quarantined,
        started_at
    {#- before any run-log file exists, an empty run log: every expected job then shows as never run #}
    from {{ cadence.relation_or_empty(source('ops_lake', 'run_log'), {
        'job': dbt.type_string(), 'window_end': dbt.type_timestamp(), 'status': dbt.type_string(),
        'rows_extracted': dbt.type_bigint(), 'rows_quarantined': dbt.type_bigint(),
        'started_at': dbt.type_timestamp(),
    }) }} as run_log
    where window_end <= {{ checked_at }}

),

jobs as (

    {%- for job in jobs %}
    select
        '{{ job.job }}' as job,
        {{ job.stale_after_seconds | int }} as stale_after_seconds,
        cast({{ job.max_quarantine_share }} as {{ double }}) as max_quarantine_share,
        '{{ job.quarantine_severity }}' as quarantine_severity
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- else %}
    select
        cast(null as {{ dbt.type_string() }}) as job,
        0 as stale_after_seconds,
        cast(0 as {{ double }}) as max_quarantine_share,
        'warn' as quarantine_severity
    from run_log
    where 1 = 0
    {%- endfor %}

),

newest_success as (

    select job, max(window_end) as newest_success_end
    from run_log
    where status = 'success'
    group by job

),

ranked_runs as (

    select
        job,
        status,
        window_end,
        row_number() over (partition by job order by window_end desc, started_at desc) as recency
    from run_log

),

quarantine as (

    select
        job,
        sum(rows_extracted) as rows_extracted,
        sum(rows_quarantined) as rows_quarantined
    from run_log
    where window_end > {{ cadence.utc_timestamp(since) }}
    group by job

),

freshness_checks as (

    select
        jobs.job,
        'freshness' as check_name,
        cast(
            {{ dbt.datediff('newest_success.newest_success_end', checked_at, 'second') }}  -- noqa: LT05
            as {{ double }}
        ) as value,
        cast(jobs.stale_after_seconds as {{ double }}) as threshold,
        case
            when newest_success.newest_success_end is null then 'never_ran'
            when {{ dbt.datediff('newest_success.newest_success_end', checked_at, 'second') }}
                > jobs.stale_after_seconds then 'stale'
            else 'ok'
        end as status,
        'error' as severity,
        cast(newest_success.newest_success_end as {{ dbt.type_timestamp() }}) as window_end
    from jobs
    left join newest_success on jobs.job = newest_success.job

),

last_run_checks as (

    select
        jobs.job,
        'last_run' as check_name,
        cast(null as {{ double }}) as value,
        cast(null as {{ double }}) as threshold,
        case
            when ranked_runs.status is null then 'no_runs'
            when ranked_runs.status = 'success' then 'ok'
            else 'last_run_failed'
        end as status,
        'error' as severity,
        cast(ranked_runs.window_end as {{ dbt.type_timestamp() }}) as window_end
    from jobs
    left join ranked_runs
        on jobs.job = ranked_runs.job
        and ranked_runs.recency = 1

),

quarantine_checks as (

    select
        jobs.job,
        'quarantine' as check_name,
        cast({{ cadence.safe_divide('quarantine.rows_quarantined', 'quarantine.rows_extracted') }} as {{ double }})
            as value,
        jobs.max_quarantine_share as threshold,
        case
            when coalesce(quarantine.rows_extracted, 0) = 0 then 'no_rows'
            when {{ cadence.safe_divide('quarantine.rows_quarantined', 'quarantine.rows_extracted') }}
                > jobs.max_quarantine_share then 'over_limit'
            else 'ok'
        end as status,
        jobs.quarantine_severity as severity,
        cast(null as {{ dbt.type_timestamp() }}) as window_end
    from jobs
    left join quarantine on jobs.job = quarantine.job

),

checks as (

    select * from freshness_checks
    union all
    select * from last_run_checks
    union all
    select * from quarantine_checks

),

final as (

    select
        -- grain
        cast({{ checked_at }} as {{ dbt.type_timestamp() }}) as checked_at,
        job,
        check_name,

        -- measurement
        value,
        threshold,
        window_end,

        -- verdict
        status,
        severity,
        status in ('never_ran', 'stale', 'last_run_failed', 'over_limit') as is_alert

    from checks

)

select * from final
