{#- Exact money amounts: a fixed-point decimal on every warehouse. -#}
{% macro money_type() -%}
    {{ return(adapter.dispatch('money_type', 'cadence')()) }}
{%- endmacro %}

{% macro default__money_type() -%} decimal(18, 2) {%- endmacro %}

{% macro bigquery__money_type() -%} numeric {%- endmacro %}

{#- Delivered fractional values (spins): a double on every warehouse, never a 4-byte float
    (dbt.type_float() is FLOAT, 4 bytes, on DuckDB: 57.3 would become 57.29999923706055). -#}
{% macro double_type() -%}
    {{ return(adapter.dispatch('double_type', 'cadence')()) }}
{%- endmacro %}

{% macro default__double_type() -%} double {%- endmacro %}

{% macro bigquery__double_type() -%} float64 {%- endmacro %}

{#- numerator / denominator, NULL (never an error) when the denominator is 0. -#}
{% macro safe_divide(numerator, denominator) -%}
    ({{ numerator }}) / nullif(({{ denominator }}), 0)
{%- endmacro %}

{#- The relation when it exists, else an empty select with the given columns. Gold may be built before
    the other cadence ever ran (purchases could not catch up): its side is then empty, not an error, and
    the run log says gold was built on stale purchases. -#}
{% macro relation_or_empty(relation, columns) -%}
    {%- if execute and load_relation(relation) is none -%}
        (select
        {%- for name, type in columns.items() %}
            cast(null as {{ type }}) as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
        where 1 = 0)
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{%- endmacro %}

{#- The silver purchases columns gold reads, for relation_or_empty. -#}
{% macro silver_purchases_columns() -%}
    {{ return({
        'user_id': dbt.type_string(), 'country': dbt.type_string(), 'status': dbt.type_string(),
        'net_revenue_usd': cadence.money_type(), 'purchase_hour': dbt.type_timestamp(),
        'landed_window_end': dbt.type_timestamp(),
    }) }}
{%- endmacro %}
