{#- Click-through rate per period (day, ISO week, month) × partner × platform × country: clicks divided by
    impressions, as a ratio in [0, 1] and as a percentage. Incremental like mmp_installs. -#}

with

period_totals as (

    select * from {{ ref('mmp_period_totals') }}
    {% if is_incremental() %}
    where {{ cadence.changed_in_window('computed_window_end') }}
    {% endif %}

),

rates as (

    select
        *,
        {{ cadence.safe_divide('clicks', 'impressions') }} as ctr
    from period_totals

),

final as (

    select
        grain,
        period_start,
        partner,
        platform,
        country,
        impressions,
        clicks,
        ctr,
        round(100 * ctr, 2) as ctr_pct
    from rates

)

select * from final
