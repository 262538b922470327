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

{#- {start, end} ISO dates of the run's days, moved back by extra_days_before; none means "every day".
    A window that does not end at midnight (an hourly run) covers the day it ends in as well: the days
    are always whole, and never none of them; complete_before is still the window end's own day. -#}
{% macro kpis_window(extra_days_before=0) -%}
    {%- set window_start = cadence.window_bound('start') -%}
    {%- set window_end = cadence.window_bound('end') -%}
    {%- if not (window_start and window_end) or should_full_refresh() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set day = modules.datetime.timedelta(days=1) -%}
    {%- set start = modules.datetime.date.fromisoformat(window_start[:10])
        - modules.datetime.timedelta(days=extra_days_before | int) -%}
    {%- set end = modules.datetime.date.fromisoformat(window_end[:10]) -%}
    {%- if window_end[11:] not in ('', '00:00:00') or end <= start -%}
        {%- set end = [end + day, start + day] | max -%}
    {%- endif -%}
    {#- complete_before: days before it are complete (an hourly window's own day is not yet) -#}
    {{ return({'start': start.isoformat(), 'end': end.isoformat(), 'complete_before': window_end[:10]}) }}
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

{#- The ISO days of the window, in order ([] without a window). -#}
{% macro kpis_days(window) -%}
    {%- set days = [] -%}
    {%- if window -%}
        {%- set first = modules.datetime.date.fromisoformat(window.start) -%}
        {%- set last = modules.datetime.date.fromisoformat(window.end) -%}
        {%- for offset in range((last - first).days) -%}
            {%- do days.append((first + modules.datetime.timedelta(days=offset)).isoformat()) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(days) }}
{%- endmacro %}

{#- `day_column` + `days` days, as a date on every warehouse. -#}
{% macro kpis_add_days(day_column, days) -%}
    cast({{ dbt.dateadd('day', days, day_column) }} as date)
{%- endmacro %}

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
