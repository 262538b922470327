{{
    config(
        materialized='incremental',
        unique_key='event_id',
        incremental_strategy='merge',
    )
}}

{#- MMP events, typed, one row per event_id. An incremental run reads only its window's files: every event
    lies inside its file's window (validated before landing), so selecting the window's event times selects
    exactly those files' events. A re-delivered event is kept once; an event never changes, so any copy does.
    The rest of the pipeline recomputes from this table, never from the lake. -#}

{#- DuckDB refuses to read a glob that matches no file. A lake that has never received an MMP window (a
    warehouse built by hand before the mmp DAG ran) therefore stages no events instead of failing; the glob
    checked is the first quoted string of the source's read_json call. -#}
{%- set lake = source('mmp_lake', 'events') -%}
{%- set lake_is_empty = false -%}
{%- if execute and target.type == 'duckdb' -%}
    {%- set files = run_query("select count(*) from glob('" ~ (lake | string).split("'")[1] ~ "')") -%}
    {%- set lake_is_empty = files.columns[0].values()[0] == 0 -%}
{%- endif %}

with

lake_events as (

    {% if lake_is_empty %}
    select
        cast(null as {{ dbt.type_bigint() }}) as event_id,
        cast(null as {{ dbt.type_string() }}) as event_type,
        cast(null as {{ dbt.type_timestamp() }}) as event_time,
        cast(null as {{ dbt.type_string() }}) as partner,
        cast(null as {{ dbt.type_string() }}) as platform,
        cast(null as {{ dbt.type_string() }}) as country,
        cast(null as {{ dbt.type_string() }}) as campaign_id,
        cast(null as {{ dbt.type_bigint() }}) as impression_id,
        cast(null as {{ dbt.type_bigint() }}) as click_id,
        cast(null as {{ dbt.type_string() }}) as user_id,
        cast(null as {{ dbt.type_numeric() }}) as cost_usd
    limit 0
    {% else %}
    select * from {{ lake }}
    {% if is_incremental() %}
    where {{ cadence.in_window('event_time', partition_column='dt') }}
    {% endif %}
    {% endif %}

),

typed as (

    select
        -- ids
        cast(event_id as {{ dbt.type_bigint() }}) as event_id,
        cast(impression_id as {{ dbt.type_bigint() }}) as impression_id,
        cast(click_id as {{ dbt.type_bigint() }}) as click_id,
        user_id,

        -- dimensions
        lower(event_type) as event_type,
        lower(partner) as partner,
        lower(platform) as platform,
        upper(country) as country,
        campaign_id,

        -- money: exact, micro-dollars
        cast(cost_usd as {{ dbt.type_numeric() }}) as cost_usd,

        -- timestamps (UTC)
        cast(event_time as {{ dbt.type_timestamp() }}) as event_time

    from lake_events

),

deduplicated as (

    select
        *,
        row_number() over (partition by event_id order by event_time) as copy_number
    from typed

),

final as (

    select
        event_id,
        event_type,
        event_time,
        cast(event_time as date) as event_date,
        partner,
        platform,
        country,
        campaign_id,
        impression_id,
        click_id,
        user_id,
        cost_usd
    from deduplicated
    where copy_number = 1

)

select * from final
