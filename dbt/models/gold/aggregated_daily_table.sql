{#- Write-audit-publish, publish step: the recomputed user-days of gold_daily_staged replace the published
    ones whole, as aggregated_final_table does for the hours. -#}
-- depends_on: {{ ref('changed_user_days') }}
-- depends_on: {{ ref('gold_hourly_staged') }}

-- published as staged and audited, column for column (hence noqa AM04)
select * from {{ ref('gold_daily_staged') }}  -- noqa: AM04
