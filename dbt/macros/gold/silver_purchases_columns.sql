{#- The silver purchases columns gold reads, for relation_or_empty. -#}
{% macro silver_purchases_columns() -%}
    {{ return({
        'user_id': dbt.type_string(), 'country': dbt.type_string(), 'status': dbt.type_string(),
        'net_revenue_usd': cadence.money_type(), 'purchase_hour': dbt.type_timestamp(),
        'landed_window_end': dbt.type_timestamp(),
    }) }}
{%- endmacro %}
