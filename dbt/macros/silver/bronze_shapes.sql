{#- Shapes shared by silver purchases and the superseded-versions model, so both read bronze the same way. -#}

{#- The typed, cleaned columns of bronze purchases rows from `relation` (a CTE name), in stored order. -#}
{% macro silver_purchases_from_bronze(relation) -%}
    select
        -- ids
        transaction_id,
        user_id,

        -- dimensions
        upper(country) as country,
        lower(platform) as platform,
        upper(currency) as currency,
        lower(status) as status,

        -- numerics
        cast(revenue_usd as {{ cadence.money_type() }}) as revenue_usd,

        -- timestamps (UTC)
        cast(purchased_at as {{ dbt.type_timestamp() }}) as purchased_at,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,
        cast(_window_end as {{ dbt.type_timestamp() }}) as landed_window_end

    from {{ relation }}
{%- endmacro %}

{#- The columns silver_purchases_from_bronze produces, in order. -#}
{% macro silver_purchases_landed_columns() -%}
    {{ return(['transaction_id', 'user_id', 'country', 'platform', 'currency', 'status', 'revenue_usd',
               'purchased_at', 'created_at', 'updated_at', 'landed_window_end']) }}
{%- endmacro %}

{#- Those columns with their types, for relation_or_empty. -#}
{% macro silver_purchases_version_columns() -%}
    {%- set text, ts = dbt.type_string(), dbt.type_timestamp() -%}
    {{ return({
        'transaction_id': text, 'user_id': text, 'country': text, 'platform': text, 'currency': text,
        'status': text, 'revenue_usd': cadence.money_type(), 'purchased_at': ts, 'created_at': ts,
        'updated_at': ts, 'landed_window_end': ts,
    }) }}
{%- endmacro %}

{#- The superseded purchase versions gold reads, for relation_or_empty. -#}
{% macro purchases_superseded_columns() -%}
    {{ return({
        'transaction_id': dbt.type_string(), 'user_id': dbt.type_string(), 'country': dbt.type_string(),
        'status': dbt.type_string(), 'purchase_hour': dbt.type_timestamp(),
        'updated_at': dbt.type_timestamp(), 'superseded_window_end': dbt.type_timestamp(),
    }) }}
{%- endmacro %}
