{{
    config(
        unique_key=['app_hour', 'user_id', 'country'],
        tags=['spins'],
    )
}}

{#- One row per app_hour × user × country: the latest delivery wins (corrections re-deliver the same key
    with a newer updated_at). Same shape as silver purchases: the window's batches against stored rows. -#}

with

bronze as (

    select * from {{ source('bronze', 'spins_hourly') }}
    {% if is_incremental() %}
    where {{ cadence.batches_in_window() }}
    {% endif %}

),

landed as (

    select
        -- grain
        cast(app_hour as {{ dbt.type_timestamp() }}) as app_hour,
        user_id,
        upper(country) as country,

        -- numerics
        cast(total_spins as {{ cadence.double_type() }}) as total_spins,
        cast(coins_bet as {{ dbt.type_bigint() }}) as coins_bet,
        cast(coins_won as {{ dbt.type_bigint() }}) as coins_won,

        -- timestamps (UTC)
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,
        cast(_window_end as {{ dbt.type_timestamp() }}) as landed_window_end

    from bronze

),

final as (

    {#- a stored row takes part when its day and user are among the landed rows' -#}
    {{ cadence.latest_versions(
        'landed', ['app_hour', 'user_id', 'country'],
        ['app_hour', 'user_id', 'country', 'total_spins', 'coins_bet', 'coins_won',
         'created_at', 'updated_at', 'landed_window_end'],
        stored_where='cast(app_hour as date) in (select distinct cast(app_hour as date) from landed)
            and user_id in (select user_id from landed)') }}

)

select * from final
