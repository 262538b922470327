{#- The install reconciliation per UTC day, all platforms and partners together: game first-seen players
    against MMP attributed + organic installs, whether the difference is within the stated tolerance, and
    the users behind it (the sums of mmp_install_reconciliation's breakdown, the columns of
    cadence.reconciliation_reasons(), explained the same way).

    Tolerance: |difference| <= greatest(mmp_reconciliation_tolerance_users,
    ceil(mmp_reconciliation_tolerance_share × mmp_installs)) (dbt vars). What remains with one consistent
    player timeline is a few players a day: first sessions crossing midnight (first seen the next day),
    first spins rows quarantined (first seen at their next activity), installs just before the data ends. -#}

with

reconciliation as (

    select * from {{ ref('mmp_install_reconciliation') }}

),

days as (

    select
        install_date,
        {{ cadence.sum_bigint('first_seen_users') }} as first_seen_users,
        {{ cadence.sum_bigint('attributed_installs') }} as attributed_installs,
        {{ cadence.sum_bigint('organic_installs') }} as organic_installs,
        {{ cadence.sum_bigint('mmp_installs') }} as mmp_installs,
        {{ cadence.sum_bigint('matched_users') }} as matched_users,
        {%- for column, _ in cadence.reconciliation_reasons() %}
        {{ cadence.sum_bigint(column) }} as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from reconciliation
    group by install_date

),

tolerated as (

    select
        *,
        mmp_installs - first_seen_users as difference,
        cast(greatest(
            {{ var('mmp_reconciliation_tolerance_users') }},
            ceil({{ var('mmp_reconciliation_tolerance_share') }} * mmp_installs)
        ) as {{ dbt.type_bigint() }}) as tolerance
    from days

),

final as (

    select
        -- key
        install_date,

        -- the two sides
        first_seen_users,
        attributed_installs,
        organic_installs,
        mmp_installs,
        difference,
        tolerance,
        abs(difference) <= tolerance as within_tolerance,

        -- the users behind the difference
        matched_users,
        {%- for column, _ in cadence.reconciliation_reasons() %}
        {{ column }},
        {%- endfor %}
        {{ cadence.reconciliation_discrepancy() }} as discrepancy
    from tolerated

)

select * from final
