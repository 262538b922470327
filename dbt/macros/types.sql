{#- Exact money amounts: a fixed-point decimal on every warehouse. -#}
{% macro money_type() -%}
    {{ return(adapter.dispatch('money_type', 'cadence')()) }}
{%- endmacro %}

{% macro default__money_type() -%} decimal(18, 2) {%- endmacro %}

{% macro bigquery__money_type() -%} numeric {%- endmacro %}

{#- numerator / denominator, NULL (never an error) when the denominator is 0. -#}
{% macro safe_divide(numerator, denominator) -%}
    ({{ numerator }}) / nullif(({{ denominator }}), 0)
{%- endmacro %}
