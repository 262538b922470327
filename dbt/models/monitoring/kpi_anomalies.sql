{{
    config(
        tags=['kpi_monitoring'],
        **cadence.kpis_replace_days('kpi_date'),
    )
}}

{#- KPI anomaly monitoring: every rule of the KPI rules config (include/cadence/kpi_rules.yaml, passed
    in as the var kpi_rules by the daily DAG / `python -m cadence.monitoring`) evaluated on every day the
    run recomputes in daily_kpis, one row per day x KPI x slice x rule, "ok" rows included.

    - day_over_day: change = 100 * (value - previous day) / |previous day|; anomaly when |change| > threshold.
      A missing previous day is 'no_baseline', a zero one 'zero_baseline': never divided by.
    - zscore: baseline = mean of the KPI over the baseline_days days before (stddev_samp for the spread);
      change = (value - mean) / stddev; anomaly when |change| >= threshold. Fewer than min_baseline_days
      known days is 'no_baseline', a zero spread 'flat_baseline'.
    - below min_volume (the KPI's volume column that day, e.g. DAU behind ARPDAU) it is 'low_volume'.
    known_on is the day the value became final (retention matures 1 / 7 days later): alerts go out for
    the rows that became known in the run's own days. -#}

{%- set rules = var('kpi_rules', []) %}
{%- set horizon = cadence.kpis_retention_horizon() %}
{%- set longest_baseline = [1] %}
{%- for rule in rules %}{% do longest_baseline.append(rule.baseline_days | int) %}{% endfor %}
{%- set window = cadence.kpis_window(extra_days_before=horizon) %}
{%- set read_window = cadence.kpis_window(extra_days_before=horizon + longest_baseline | max) %}
{%- set double = cadence.double_type() %}

with

kpis as (

    select * from {{ ref('daily_kpis') }}
    where {{ cadence.kpis_days_between('kpi_date', read_window) }}

),

{% for rule in rules %}
{%- set slice_filter = {
    'all': "current_day.slice = 'all'",
    'segments': "current_day.slice != 'all'",
    'both': "true",
}[rule.slices] %}
rule_{{ loop.index }} as (

    -- {{ rule.kpi }}: {{ rule.rule }} on slices {{ rule.slices }}, severity {{ rule.severity }}
    select
        current_day.kpi_date,
        current_day.slice,
        cast(current_day.{{ rule.kpi }} as {{ double }}) as value,
        cast(current_day.{{ rule.volume }} as {{ double }}) as volume,
        {%- if rule.rule == 'day_over_day' %}
        cast(previous_day.{{ rule.kpi }} as {{ double }}) as baseline,
        cast(null as {{ double }}) as baseline_stddev,
        case when previous_day.{{ rule.kpi }} is null then 0 else 1 end as baseline_days
    from kpis as current_day
    left join kpis as previous_day
        on current_day.slice = previous_day.slice
        and previous_day.kpi_date = {{ cadence.kpis_add_days('current_day.kpi_date', -1) }}
    where {{ cadence.kpis_days_between('current_day.kpi_date', window) }}
        and {{ slice_filter }}
        {%- else %}
        avg(cast(history.{{ rule.kpi }} as {{ double }})) as baseline,
        stddev_samp(cast(history.{{ rule.kpi }} as {{ double }})) as baseline_stddev,
        count(history.{{ rule.kpi }}) as baseline_days
    from kpis as current_day
    left join kpis as history
        on current_day.slice = history.slice
        and history.kpi_date >= {{ cadence.kpis_add_days('current_day.kpi_date', -(rule.baseline_days | int)) }}
        and history.kpi_date < current_day.kpi_date
    where {{ cadence.kpis_days_between('current_day.kpi_date', window) }}
        and {{ slice_filter }}
    group by current_day.kpi_date, current_day.slice, current_day.{{ rule.kpi }}, current_day.{{ rule.volume }}
        {%- endif %}

),

scored_{{ loop.index }} as (

    select
        kpi_date,
        '{{ rule.kpi }}' as kpi,
        slice,
        '{{ rule.rule }}' as rule,
        value,
        baseline,
        baseline_stddev,
        baseline_days,
        {%- if rule.rule == 'day_over_day' %}
        {{ cadence.safe_divide('100 * (value - baseline)', 'abs(baseline)') }} as change,
        {%- else %}
        {{ cadence.safe_divide('value - baseline', 'baseline_stddev') }} as change,
        {%- endif %}
        cast({{ rule.threshold }} as {{ double }}) as threshold,
        volume,
        cast({{ rule.min_volume }} as {{ double }}) as min_volume,
        '{{ rule.severity }}' as severity,
        case
            when value is null then 'no_value'
            when coalesce(volume, 0) < {{ rule.min_volume }} then 'low_volume'
            when baseline_days < {{ rule.min_baseline_days }} then 'no_baseline'
            {%- if rule.rule == 'day_over_day' %}
            when baseline = 0 then 'zero_baseline'
            when abs({{ cadence.safe_divide('100 * (value - baseline)', 'abs(baseline)') }}) > {{ rule.threshold }}
                then 'anomaly'
            {%- else %}
            when coalesce(baseline_stddev, 0) = 0 then 'flat_baseline'
            when abs({{ cadence.safe_divide('value - baseline', 'baseline_stddev') }}) >= {{ rule.threshold }}
                then 'anomaly'
            {%- endif %}
            else 'ok'
        end as status,
        {{ cadence.kpis_add_days('kpi_date', rule.matures_after_days | int) }} as known_on
    from rule_{{ loop.index }}

),

{% endfor %}
evaluated as (

    {%- for rule in rules %}
    select * from scored_{{ loop.index }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- else %}
    {#- no rules configured: an empty table of the same shape #}
    select
        cast(null as date) as kpi_date,
        cast(null as {{ dbt.type_string() }}) as kpi,
        cast(null as {{ dbt.type_string() }}) as slice,
        cast(null as {{ dbt.type_string() }}) as rule,
        cast(null as {{ double }}) as value,
        cast(null as {{ double }}) as baseline,
        cast(null as {{ double }}) as baseline_stddev,
        cast(null as {{ dbt.type_bigint() }}) as baseline_days,
        cast(null as {{ double }}) as change,
        cast(null as {{ double }}) as threshold,
        cast(null as {{ double }}) as volume,
        cast(null as {{ double }}) as min_volume,
        cast(null as {{ dbt.type_string() }}) as severity,
        cast(null as {{ dbt.type_string() }}) as status,
        cast(null as date) as known_on
    from kpis
    where 1 = 0
    {%- endfor %}

),

final as (

    select
        -- grain
        kpi_date,
        kpi,
        slice,
        rule,

        -- measurement
        value,
        baseline,
        baseline_stddev,
        cast(baseline_days as {{ dbt.type_bigint() }}) as baseline_days,
        cast(change as {{ double }}) as change,
        threshold,
        volume,
        min_volume,

        -- verdict
        severity,
        status,
        status = 'anomaly' as is_anomaly,
        known_on

    from evaluated

)

select * from final
