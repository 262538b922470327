{{
    config(
        unique_key='transaction_id',
        tags=['purchases'],
    )
}}

{#- One row per transaction: the latest version wins, however old the transaction is. An incremental run
    reads only the bronze batches of its window and compares them with the stored row of the same
    transactions, so an older version replayed by a backfill never overwrites a newer one. The same version
    delivered again (a lookback re-reads it) keeps the window it first landed in, so reruns change nothing.
    purchases_superseded runs first and keeps the stored versions this run replaces, so gold can reopen the
    user-days those previous versions belonged to. -#}
-- depends_on: {{ ref('purchases_superseded') }}

with

bronze as (

    select * from {{ source('bronze', 'purchases') }}
    {% if is_incremental() %}
    where {{ cadence.batches_in_window() }}
    {% endif %}

),

landed as (

    {{ cadence.silver_purchases_from_bronze('bronze') }}

),

latest as (

    {{ cadence.latest_versions(
        'landed', ['transaction_id'], cadence.silver_purchases_landed_columns(),
        stored_where='transaction_id in (select transaction_id from landed)') }}

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
    from latest

)

select * from final
