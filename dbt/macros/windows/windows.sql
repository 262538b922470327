{#- A value that changes from run to run (the window, the health check time): the --vars `name` when given
    (manual runs, tests), else the environment variable DBT_<NAME>, which Cosmos sets per task, read only
    while executing: dbt records env vars read at parse time and re-parses when they change, and a changed
    --vars forces a full parse, so a per-run value in either would defeat partial parsing on every run. -#}
{% macro run_value(name) -%}
    {%- set from_vars = var(name, none) -%}
    {%- if from_vars -%}
        {{ return(from_vars) }}
    {%- endif -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(env_var('DBT_' ~ name | upper, '') or none) }}
{%- endmacro %}

{#- The run's window bound ('start' or 'end', "YYYY-MM-DD HH:MM:SS" UTC), or none (see run_value). -#}
{% macro window_bound(name) -%}
    {{ return(cadence.run_value('window_' ~ name)) }}
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
