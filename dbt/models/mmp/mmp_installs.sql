{#- Installs and reinstalls per period (day, ISO week, month) × partner × platform × country. Incremental:
    only the period rows the run recomputed in mmp_period_totals. -#}

with

period_totals as (

    select * from {{ ref('mmp_period_totals') }}
    {% if is_incremental() %}
    where {{ cadence.changed_in_window('computed_window_end') }}
    {% endif %}

),

final as (

    select
        grain,
        period_start,
        partner,
        platform,
        country,
        installs,
        reinstalls,
        installs + reinstalls as conversions
    from period_totals

)

select * from final
