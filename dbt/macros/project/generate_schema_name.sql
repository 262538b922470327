{#- Use the configured schema name as-is (silver, gold, ops) instead of dbt's <target>_<custom> default,
    so DuckDB schemas and BigQuery datasets carry the layer names that dashboards query. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name | trim if custom_schema_name else target.schema }}
{%- endmacro %}
