{#- Telemetry runs are driven by ingestion time: the land task passes the span of `_ingested_at` of the files
    not yet modeled as the run's window (inclusive; DBT_WINDOW_* in a DAG run, or window_* vars). Without it
    (a manual or full-refresh run) every row counts as new. -#}
{% macro telemetry_ingested_in_window(column='_ingested_at') -%}
    {%- set window_start = cadence.window_bound('start') -%}
    {%- set window_end = cadence.window_bound('end') -%}
    {%- if window_start and window_end -%}
        {{ column }} >= cast('{{ window_start }}' as {{ dbt.type_timestamp() }})
        and {{ column }} <= cast('{{ window_end }}' as {{ dbt.type_timestamp() }})
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- Milliseconds since the epoch of a timestamp: a portable, exact number to hash or to order a RANGE frame by. -#}
{% macro epoch_ms(column) -%}
    {{ dbt.datediff("cast('1970-01-01 00:00:00' as " ~ dbt.type_timestamp() ~ ")", column, 'millisecond') }}
{%- endmacro %}

{#- Sessions made stale by a late event: a session whose start lies inside another session of the same
    user (sessions never overlap, so the one inside is the older version that the late event merged into a
    longer one). Only users with events in this run can have any. Used as the post-hook of fct_sessions. -#}
{% macro delete_merged_sessions() -%}
    delete from {{ this }}
    where session_id in (
        select stale.session_id
        from {{ this }} as stale
        inner join {{ this }} as other
            on other.user_id = stale.user_id
            and other.session_id <> stale.session_id
            and stale.session_start > other.session_start
            and stale.session_start <= other.session_end
    )
{%- endmacro %}
