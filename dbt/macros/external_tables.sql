{#- Makes the bronze lake queryable by the warehouse. DuckDB reads the Parquet files in place through the
    sources' external_location, so there is nothing to create; BigQuery needs one external table per
    bronze source over the GCS prefix, hive-partitioned by dt (the `bronze` sources and the
    telemetry cadence's `telemetry_bronze` ones: visits, events, event items).
    Usage: dbt run-operation create_bronze_external_tables -#}
{% macro create_bronze_external_tables() %}
    {{ return(adapter.dispatch('create_bronze_external_tables', 'cadence')()) }}
{% endmacro %}

{% macro default__create_bronze_external_tables() %}
    {% do log("bronze is read in place from the lake on " ~ target.type ~ "; no external table needed", info=true) %}
{% endmacro %}

{% macro bigquery__create_bronze_external_tables() %}
    {% set lake_url = env_var('DBT_LAKE_URL') %}
    {% for source in graph.sources.values() if source.source_name in ('bronze', 'telemetry_bronze') %}
        {% set prefix = lake_url ~ '/bronze/' ~ source.name %}
        {% set ddl %}
            create schema if not exists `{{ source.database }}`.`{{ source.schema }}`;
            create or replace external table `{{ source.database }}`.`{{ source.schema }}`.`{{ source.identifier }}`
            with partition columns (dt date)
            options (format = 'PARQUET', uris = ['{{ prefix }}/*'], hive_partition_uri_prefix = '{{ prefix }}')
        {% endset %}
        {% do log("creating external table " ~ source.schema ~ "." ~ source.identifier ~ " over " ~ prefix, info=true) %}
        {% do run_query(ddl) %}
    {% endfor %}
{% endmacro %}
