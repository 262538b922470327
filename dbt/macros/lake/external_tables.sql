{#- Makes the lake queryable by the warehouse. DuckDB reads the files in place through each source's
    `external_location`, so there is nothing to create. BigQuery needs one external table per lake source:
    every source whose meta has a `bigquery_external` block gets one, so a later source only declares
    that block in its YAML:

        bigquery_external:
          path: bronze/{name}             # under the lake root (DBT_LAKE_URL); {name}: the table's name
          format: PARQUET                 # or NEWLINE_DELIMITED_JSON
          hive_partitioned: true          # dt=YYYY-MM-DD folders right below the path
          columns: {job: string, ...}     # optional: an explicit schema (JSON needs one)

    The project's on-run-start hook calls create_external_tables(), so every dbt invocation makes sure the
    tables exist (create ... if not exists: cheap, never rewrites a table another task is reading).
    After changing a source's schema, replace them once:
        dbt run-operation create_external_tables --args '{replace: true}'
    The var create_external_tables=false skips them (tables managed elsewhere, or stood in by loaded
    tables as on a BigQuery emulator). -#}
{% macro create_external_tables(replace=false) %}
    {{ return(adapter.dispatch('create_external_tables', 'cadence')(replace)) }}
{% endmacro %}

{% macro default__create_external_tables(replace=false) %}
    {{ return('') }}
{% endmacro %}

{% macro bigquery__create_external_tables(replace=false) %}
    {% if not execute or not var('create_external_tables', true) %}
        {{ return('') }}
    {% endif %}
    {% set lake_url = env_var('DBT_LAKE_URL') %}
    {% for source in graph.sources.values() if source.meta.get('bigquery_external') %}
        {% do log("external table " ~ source.schema ~ "." ~ source.identifier ~ " over " ~ lake_url, info=true) %}
        {% do run_query(cadence.external_table_ddl(source, source.meta.bigquery_external, lake_url, replace)) %}
    {% endfor %}
    {{ return('') }}
{% endmacro %}

{#- The BigQuery DDL of one lake source's external table (and its dataset). -#}
{% macro external_table_ddl(source, spec, lake_url, replace=false) -%}
    {%- set prefix = lake_url.rstrip('/') ~ '/' ~ spec.path.replace('{name}', source.name).strip('/') -%}
    {%- set dataset = '`' ~ source.database ~ '`.`' ~ source.schema ~ '`' -%}
    create schema if not exists {{ dataset }}
    {%- if target.location %} options (location = '{{ target.location }}'){% endif %};
    create {{ 'or replace ' if replace }}external table {{ 'if not exists ' if not replace -}}
    {{ dataset }}.`{{ source.identifier }}`
    {%- if spec.columns %} (
        {%- for name, type in spec.columns.items() %}
        {{ name }} {{ type }}{{ ',' if not loop.last }}
        {%- endfor %}
    )
    {%- endif %}
    {%- if spec.hive_partitioned %}
    with partition columns (dt date)
    {%- endif %}
    options (
        format = '{{ spec.format }}',
        uris = ['{{ prefix }}/*']
        {%- if spec.hive_partitioned %},
        hive_partition_uri_prefix = '{{ prefix }}'
        {%- endif %}
        {%- if spec.format == 'NEWLINE_DELIMITED_JSON' %},
        ignore_unknown_values = true
        {%- endif %}
    )
{%- endmacro %}

{#- Whether a lake source has any file to read. DuckDB's read_parquet/read_json fail on a glob matching
    nothing (a lake that never received that source), so models read an empty stand-in instead; the glob
    checked is the first quoted string of the source's external_location. On BigQuery the external table
    exists (on-run-start), so the relation is the answer. -#}
{% macro lake_has_files(relation) -%}
    {{ return(adapter.dispatch('lake_has_files', 'cadence')(relation)) }}
{%- endmacro %}

{% macro default__lake_has_files(relation) -%}
    {{ return(load_relation(relation) is not none) }}
{%- endmacro %}

{% macro duckdb__lake_has_files(relation) -%}
    {%- set pattern = (relation | string).split("'")[1] -%}
    {%- set found = run_query("select count(*) from glob('" ~ pattern ~ "')") -%}
    {{ return(found.columns[0].values()[0] > 0) }}
{%- endmacro %}
