{#- Exact money amounts: a fixed-point decimal on every warehouse. -#}
{% macro money_type() -%}
    {{ return(adapter.dispatch('money_type', 'cadence')()) }}
{%- endmacro %}

{% macro default__money_type() -%} decimal(18, 2) {%- endmacro %}

{% macro bigquery__money_type() -%} numeric {%- endmacro %}

{#- A double-precision float (dbt.type_float() is 4-byte on DuckDB). -#}
{% macro double_type() -%}
    {{ return(adapter.dispatch('double_type', 'cadence')()) }}
{%- endmacro %}

{% macro default__double_type() -%} double {%- endmacro %}

{% macro bigquery__double_type() -%} float64 {%- endmacro %}
