{#- Time grains of the MMP marts. A period is named by its first day, a DATE: day, ISO week (starting on
    Monday) or calendar month, all in UTC. Every grain model and test calls period_start, so a period means
    the same thing everywhere; only BigQuery needs its own spelling of the ISO week. -#}

{% macro period_grains() -%}
    {{ return(['day', 'week', 'month']) }}
{%- endmacro %}

{#- The key of a period row of mmp_period_totals and the marts (also their merge key in dbt_project.yml). -#}
{% macro period_key() -%}
    {{ return(['grain', 'period_start', 'partner', 'platform', 'country']) }}
{%- endmacro %}

{#- The first day (DATE) of the `grain` period containing `column` (a UTC timestamp or a date). -#}
{% macro period_start(grain, column) -%}
    {%- if grain not in cadence.period_grains() -%}
        {{ exceptions.raise_compiler_error(
            "period_start: grain must be one of " ~ cadence.period_grains() | join(', ') ~ ", got '" ~ grain ~ "'") }}
    {%- endif -%}
    {{ return(adapter.dispatch('period_start', 'cadence')(grain, column)) }}
{%- endmacro %}

{#- DuckDB's (and Postgres's) date_trunc('week') is the ISO week: it starts on Monday. -#}
{% macro default__period_start(grain, column) -%}
    cast({{ dbt.date_trunc(grain, column) }} as date)
{%- endmacro %}

{#- BigQuery's 'week' starts on Sunday; its 'isoweek' starts on Monday. -#}
{% macro bigquery__period_start(grain, column) -%}
    date({{ dbt.date_trunc('isoweek' if grain == 'week' else grain, column) }})
{%- endmacro %}

{#- Rows whose `column` (a UTC event time) lies in this run's window [window_start, window_end), plus a
    predicate on the lake's date partition (`partition_column`, the window start's day) so the warehouse
    prunes files. Without window vars (a manual run) every row qualifies. -#}
{% macro in_window(column, partition_column=none) -%}
    {%- set window_start = cadence.window_bound('start') -%}
    {%- set window_end = cadence.window_bound('end') -%}
    {%- if window_start and window_end -%}
        {%- if partition_column -%}
        {{ partition_column }} between cast('{{ window_start[:10] }}' as date) and cast('{{ window_end[:10] }}' as date) and
        {% endif -%}
        {{ column }} >= {{ cadence.utc_timestamp(window_start) }}
        and {{ column }} < {{ cadence.utc_timestamp(window_end) }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
