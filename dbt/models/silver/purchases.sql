{{
    config(
        unique_key='transaction_id',
        incremental_strategy='merge',
        tags=['purchases'],
    )
}}

{#- One row per transaction: the latest version wins, however old the transaction is. An incremental run
    reads only the bronze batches of its window and compares them with the stored row of the same
    transactions, so an older version replayed by a backfill never overwrites a newer one. The same version
    delivered again (a lookback re-reads it) keeps the window it first landed in, so reruns change nothing. -#}

with

bronze as (

    select * from {{ source('bronze', 'purchases') }}
    {% if is_incremental() %}
    where {{ cadence.batches_in_window() }}
    {% endif %}

),

landed as (

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

    from bronze

),

{% if is_incremental() %}
stored as (

    select
        transaction_id,
        user_id,
        country,
        platform,
        currency,
        status,
        revenue_usd,
        purchased_at,
        created_at,
        updated_at,
        landed_window_end
    from {{ this }}
    where transaction_id in (select transaction_id from landed)

),
{% endif %}

candidates as (

    select * from landed
    {% if is_incremental() %}
    union all
    select * from stored
    {% endif %}

),

ranked as (

    select
        *,
        row_number() over (
            partition by transaction_id
            order by updated_at desc, landed_window_end asc
        ) as version_rank
    from candidates

),

final as (

    select
        transaction_id,
        user_id,
        country,
        platform,
        currency,
        status,
        revenue_usd,
        case when status = 'completed' then revenue_usd else 0 end as net_revenue_usd,
        purchased_at,
        {{ dbt.date_trunc('hour', 'purchased_at') }} as purchase_hour,
        created_at,
        updated_at,
        landed_window_end
    from ranked
    where version_rank = 1

)

select * from final
