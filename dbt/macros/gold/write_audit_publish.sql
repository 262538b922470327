{#- Write-audit-publish of gold by user-day (see models/gold). -#}

{#- Whether this run rebuilds gold whole: a full refresh, or no published gold table yet. -#}
{% macro gold_rebuilds_all() -%}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- if should_full_refresh() -%}
        {{ return(true) }}
    {%- endif -%}
    {%- for identifier in ['aggregated_final_table', 'aggregated_daily_table'] -%}
        {%- if adapter.get_relation(database=target.database, schema='gold', identifier=identifier) is none -%}
            {{ return(true) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(false) }}
{%- endmacro %}

{#- Pre-hook of a published gold table: delete every row of the user-days this run recomputed, so the
    merge that follows leaves exactly the recomputed rows for them (keys no longer produced disappear). -#}
{% macro gold_remove_changed_user_days(date_column) -%}
    {%- if is_incremental() -%}
    delete from {{ this }} as published
    where exists (
        select 1
        from {{ ref('changed_user_days') }} as changed
        where changed.user_id = published.user_id
            and changed.activity_date = published.{{ date_column }}
    )
    {%- endif -%}
{%- endmacro %}
