{#- Day windows of the daily KPI and monitoring models.

    The daily_kpis DAG passes window_start / window_end ("YYYY-MM-DD 00:00:00", whole UTC days): the days
    whose user panel it recomputes (its data interval extended back by the trailing days). daily_kpis and
    kpi_anomalies recompute `kpis_retention_horizon()` days more, because D1/D7 retention of a cohort is
    only known once its day+1 / day+7 has passed. Without window vars, or under --full-refresh, every day
    is recomputed. -#}

{#- The longest retention horizon (D7): cohort days this far before the window get their retention. -#}
{% macro kpis_retention_horizon() -%}
    {{ return(7) }}
{%- endmacro %}

{#- {start, end} ISO dates of the run's days, moved back by extra_days_before; none means "every day". -#}
{% macro kpis_window(extra_days_before=0) -%}
    {%- set window_start = cadence.window_bound('start') -%}
    {%- set window_end = cadence.window_bound('end') -%}
    {%- if not (window_start and window_end) or should_full_refresh() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set start = modules.datetime.date.fromisoformat(window_start[:10])
        - modules.datetime.timedelta(days=extra_days_before | int) -%}
    {{ return({'start': start.isoformat(), 'end': window_end[:10]}) }}
{%- endmacro %}

{#- A date literal every warehouse reads the same way. -#}
{% macro kpis_date(iso_day) -%}
    cast('{{ iso_day }}' as date)
{%- endmacro %}

{#- `column` lies in [window.start, window.end); true when the window is none. -#}
{% macro kpis_days_between(column, window) -%}
    {%- if window -%}
        {{ column }} >= {{ cadence.kpis_date(window.start) }} and {{ column }} < {{ cadence.kpis_date(window.end) }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- One row per day of the window (column kpi_date), written out as literals: no warehouse query needed. -#}
{% macro kpis_window_days(window) -%}
    {%- set first = modules.datetime.date.fromisoformat(window.start) -%}
    {%- set last = modules.datetime.date.fromisoformat(window.end) -%}
    {%- for offset in range((last - first).days) %}
    select {{ cadence.kpis_date((first + modules.datetime.timedelta(days=offset)).isoformat()) }} as kpi_date
    {%- if not loop.last %}
    union all
    {%- endif -%}
    {%- endfor -%}
{%- endmacro %}

{#- `day_column` + `days` days, as a date on every warehouse. -#}
{% macro kpis_add_days(day_column, days) -%}
    cast({{ dbt.dateadd('day', days, day_column) }} as date)
{%- endmacro %}

{#- A double-precision float (dbt.type_float() is 4-byte on DuckDB). -#}
{% macro kpis_double() -%}
    {{ return(adapter.dispatch('kpis_double', 'cadence')()) }}
{%- endmacro %}

{% macro default__kpis_double() -%} double {%- endmacro %}

{% macro bigquery__kpis_double() -%} float64 {%- endmacro %}

{#- Incremental config that replaces whole days atomically: the days a run produces replace every stored
    row of those days in one transaction (DuckDB: delete+insert keyed on the day, inside dbt's
    BEGIN/COMMIT) or one MERGE statement (BigQuery: insert_overwrite of the day partitions). A reader sees
    the old day or the new day, never half of each. -#}
{% macro kpis_replace_days(day_column) -%}
    {{ return(adapter.dispatch('kpis_replace_days', 'cadence')(day_column)) }}
{%- endmacro %}

{% macro default__kpis_replace_days(day_column) -%}
    {{ return({'incremental_strategy': 'delete+insert', 'unique_key': day_column}) }}
{%- endmacro %}

{% macro bigquery__kpis_replace_days(day_column) -%}
    {{ return({
        'incremental_strategy': 'insert_overwrite',
        'partition_by': {'field': day_column, 'data_type': 'date', 'granularity': 'day'},
    }) }}
{%- endmacro %}

{#- Whether the run log has any file yet. DuckDB's read_json fails on a glob matching nothing, so
    pipeline_health reads an empty run log instead: every expected job then shows as never run. On
    BigQuery the external table (dbt run-operation create_ops_external_tables) is assumed to exist. At
    parse time this is true, so the source is always part of the lineage. -#}
{% macro kpis_run_log_present() -%}
    {{ return(adapter.dispatch('kpis_run_log_present', 'cadence')()) }}
{%- endmacro %}

{% macro default__kpis_run_log_present() -%}
    {%- if not execute -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set pattern = env_var('DBT_LAKE_ROOT', '../.data/lake') ~ '/ops/run_log/*/*/*.json' -%}
    {%- set found = run_query("select count(*) from glob('" ~ pattern ~ "')") -%}
    {{ return(found.columns[0].values()[0] > 0) }}
{%- endmacro %}

{% macro bigquery__kpis_run_log_present() -%}
    {{ return(true) }}
{%- endmacro %}

{#- BigQuery: an external table over the run-log JSON files in the lake, for the ops_lake source.
    Usage: dbt run-operation create_ops_external_tables -#}
{% macro create_ops_external_tables() %}
    {{ return(adapter.dispatch('create_ops_external_tables', 'cadence')()) }}
{% endmacro %}

{% macro default__create_ops_external_tables() %}
    {% do log("the run log is read in place from the lake on " ~ target.type ~ "; no external table needed", info=true) %}
{% endmacro %}

{% macro bigquery__create_ops_external_tables() %}
    {% set prefix = env_var('DBT_LAKE_URL') ~ '/ops/run_log' %}
    {% for source in graph.sources.values() if source.source_name == 'ops_lake' %}
        {% set ddl %}
            create schema if not exists `{{ source.database }}`.`{{ source.schema }}`;
            create or replace external table `{{ source.database }}`.`{{ source.schema }}`.`{{ source.identifier }}` (
                job string, window_start timestamp, window_end timestamp, status string,
                rows_extracted int64, rows_valid int64, rows_quarantined int64, rows_landed int64,
                started_at timestamp, run_id string, error string
            )
            options (format = 'NEWLINE_DELIMITED_JSON', uris = ['{{ prefix }}/*'], ignore_unknown_values = true)
        {% endset %}
        {% do log("creating external table " ~ source.schema ~ "." ~ source.identifier ~ " over " ~ prefix, info=true) %}
        {% do run_query(ddl) %}
    {% endfor %}
{% endmacro %}
