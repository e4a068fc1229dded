-- county_items: every item of every county and year with its value, threshold, rule and verdict
-- (from county_item_verdicts), the trend of every numeric item over the years present up to
-- that year, and, for an item that fails, the year it would pass at its current pace (linear,
-- least squares over those years). Yes/no items have no pace: their projection is null.
-- A roll-up over all years at once, so a year's trend never depends on which year ran first.
with trend as (
    select
        v.*,
        regr_slope(v.value, v.year) over history as slope_all,
        count(v.value) over history as years_with_value
    from county_item_verdicts v
    window history as (partition by v.county_code, v.item order by v.year
                       rows between unbounded preceding and current row)
),

pace as (
    select
        t.*,
        case when t.years_with_value >= 2 then t.slope_all end as slope_per_year,
        -- years needed at the current pace, when the item fails and is moving the right way
        case
            when t.verdict = 'fail' and t.op = '>=' and t.years_with_value >= 2 and t.slope_all > 0
                then (t.threshold - t.value) / t.slope_all
            when t.verdict = 'fail' and t.op in ('<=', '<') and t.years_with_value >= 2 and t.slope_all < 0
                then (t.value - t.threshold) / -t.slope_all
        end as years_needed,
        p.projection_horizon_years as horizon
    from trend t
    join policy_province p on p.province_code = t.province_code
)

select
    year, province, province_code, county_code, county_name, area, item, item_name,
    value, op, threshold, unit, rule, verdict, slope_per_year,
    case when years_needed <= horizon then year + greatest(1, ceil(years_needed))::int end as projected_pass_year,
    case
        when verdict = 'pass' then 'passes'
        when verdict = 'insufficient_data' then 'insufficient_data'
        when op in ('yes', 'no') then 'qualitative'
        when years_with_value < 2 then 'one_year_only'
        when years_needed <= horizon then 'improving'
        else 'not_improving'
    end as trend_note
from pace
