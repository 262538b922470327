{#- The run's window bound ('start' or 'end', "YYYY-MM-DD HH:MM:SS" UTC), or none.

    Airflow passes the window in the environment (DBT_WINDOW_START / DBT_WINDOW_END, set per task by Cosmos),
    read only while executing: dbt records env vars read at parse time and re-parses when they change, and a
    changed --vars forces a full parse, so a window in either would defeat partial parsing on every run.
    A --vars window_start / window_end (manual runs, tests) takes precedence. -#}
{% macro window_bound(name) -%}
    {%- set from_vars = var('window_' ~ name) -%}
    {%- if from_vars -%}
        {{ return(from_vars) }}
    {%- endif -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(env_var('DBT_WINDOW_' ~ name | upper, '') or none) }}
{%- endmacro %}

{#- The bronze batches a run is responsible for: those landed for windows inside [window_start, window_end).
    The dt predicate lets the warehouse prune partitions (files) before reading them. Without window vars
    (a manual or full-refresh run) every batch qualifies. -#}
{% macro batches_in_window(window_start_column='_window_start', window_end_column='_window_end') -%}
    {%- set window_start = cadence.window_bound('start') -%}
    {%- set window_end = cadence.window_bound('end') -%}
    {%- if window_start and window_end -%}
        dt between cast('{{ window_start[:10] }}' as date) and cast('{{ window_end[:10] }}' as date)
        and {{ window_start_column }} >= {{ cadence.utc_timestamp(window_start) }}
        and {{ window_end_column }} <= {{ cadence.utc_timestamp(window_end) }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- A literal UTC timestamp comparable with Parquet UTC timestamps on every warehouse. -#}
{% macro utc_timestamp(value) -%}
    {{ return(adapter.dispatch('utc_timestamp', 'cadence')(value)) }}
{%- endmacro %}

{% macro default__utc_timestamp(value) -%} cast('{{ value }}+00' as timestamptz) {%- endmacro %}

{% macro bigquery__utc_timestamp(value) -%} timestamp('{{ value }}', 'UTC') {%- endmacro %}

{#- Silver rows whose current version was landed by a batch inside this run's window: exactly what changed.
    Without window vars everything counts as changed (a full recomputation). -#}
{% macro changed_in_window(landed_column='landed_window_end') -%}
    {%- set window_start = cadence.window_bound('start') -%}
    {%- set window_end = cadence.window_bound('end') -%}
    {%- if window_start and window_end -%}
        {{ landed_column }} > cast('{{ window_start }}' as {{ dbt.type_timestamp() }})
        and {{ landed_column }} <= cast('{{ window_end }}' as {{ dbt.type_timestamp() }})
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
