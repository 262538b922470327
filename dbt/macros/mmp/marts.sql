{#- The body of an MMP mart (mmp_installs, mmp_ctr, mmp_cpi): one row per period × partner × platform ×
    country of mmp_period_totals, with `measures` (SQL expressions over its columns, each with its alias
    where it needs one). An incremental run reads only the period rows mmp_period_totals recomputed in the
    same window, and merges them on the period key (the mmp folder's unique_key). -#}
{% macro mmp_mart(measures) -%}

with

period_totals as (

    select * from {{ ref('mmp_period_totals') }}
    {% if is_incremental() %}
    where {{ cadence.changed_in_window('computed_window_end') }}
    {% endif %}

),

final as (

    select
        {{ (cadence.period_key() + measures) | join(',\n        ') }}
    from period_totals

)

select * from final
{%- endmacro %}
