{{
    config(
        unique_key=['transaction_id', 'updated_at'],
        tags=['purchases'],
    )
}}

{#- The versions of silver purchases that a later version replaced, and the window that replaced them. Built
    just before silver purchases from the same bronze batches and the stored silver rows of the same
    transactions (never all of history): a stored version that loses the version rank to a landed one is
    superseded now. Gold reads the rows superseded inside its window to reopen the user-day each previous
    version belonged to (a moved purchase leaves its old hour, day, user or country). A rerun supersedes
    nothing new; a full refresh of silver starts the history empty (gold is then rebuilt whole anyway). -#}

with

bronze as (

    select * from {{ source('bronze', 'purchases') }}
    where {{ cadence.batches_in_window() }}

),

landed as (

    {{ cadence.silver_purchases_from_bronze('bronze') }}

),

stored as (

    select {{ cadence.silver_purchases_landed_columns() | join(', ') }}
    from {{ cadence.relation_or_empty(
        api.Relation.create(database=this.database, schema=this.schema, identifier='purchases'),
        cadence.silver_purchases_version_columns()) }} as silver_purchases
    where silver_purchases.transaction_id in (select landed.transaction_id from landed)
    {% if should_full_refresh() %}
        and 1 = 0
    {% endif %}

),

ranked as (

    select
        candidates.*,
        {{ cadence.version_rank(['transaction_id']) }} as version_rank
    from (
        select landed.*, false as is_stored from landed
        union all
        select stored.*, true as is_stored from stored
    ) as candidates

),

winners as (

    select transaction_id, updated_at, landed_window_end as superseded_window_end
    from ranked
    where version_rank = 1 and not is_stored

),

final as (

    select
        -- the replaced version
        ranked.transaction_id,
        ranked.user_id,
        ranked.country,
        ranked.status,
        {{ dbt.date_trunc('hour', 'ranked.purchased_at') }} as purchase_hour,
        ranked.updated_at,

        -- when it was replaced: the landing window of the version that replaced it
        winners.superseded_window_end
    from ranked
    inner join winners on ranked.transaction_id = winners.transaction_id
    -- the same version delivered again is not a new version
    where ranked.is_stored and ranked.version_rank > 1 and ranked.updated_at < winners.updated_at

)

select * from final
