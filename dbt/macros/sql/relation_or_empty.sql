{#- The relation when it exists, else an empty relation with the given columns ({name: type}). Gold may be
    built before the other cadence ever ran, a mart before silver, a monitor before any run-log file: that
    side is then empty, not an error. A lake source (an external_location on DuckDB) exists when it has
    files. The stand-in selects FROM a one-row subquery, so it is valid SQL on every warehouse (BigQuery
    refuses a WHERE without a FROM). At parse time the relation itself is returned, for the lineage. -#}
{% macro relation_or_empty(relation, columns) -%}
    {%- if execute and not cadence.relation_exists(relation) -%}
        (select * from (select
        {%- for name, type in columns.items() %}
            cast(null as {{ type }}) as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
        ) as empty_relation where false)
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{%- endmacro %}

{% macro relation_exists(relation) -%}
    {%- if relation.external is defined and relation.external -%}
        {{ return(cadence.lake_has_files(relation)) }}
    {%- endif -%}
    {{ return(load_relation(relation) is not none) }}
{%- endmacro %}

{#- numerator / denominator, NULL (never an error) when the denominator is 0. -#}
{% macro safe_divide(numerator, denominator) -%}
    ({{ numerator }}) / nullif(({{ denominator }}), 0)
{%- endmacro %}
