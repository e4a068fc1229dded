-- county_items: every item of every county with its value, threshold, rule and verdict
-- (from county_item_verdicts), and the trend of every numeric item over the years present up to the run year, and,
-- for an item that fails now, the year it would pass at its current pace (linear, by least
-- squares over the years present). Yes/no items have no pace: their projection is null.
with history as (
    select * from county_item_verdicts where year <= getvariable('run_year') and value is not null
),

trend as (
    select county_code, item,
           case when count(distinct year) >= 2 then regr_slope(value, year order by year) end as slope_per_year,
           count(*) as years_with_value
    from history
    group by all
),

pace as (
    select
        i.*,
        t.slope_per_year,
        coalesce(t.years_with_value, 0)::int as years_with_value,
        -- years needed at the current pace, when the item fails and is moving the right way
        case
            when i.verdict = 'fail' and i.op = '>=' and t.slope_per_year > 0
                then (i.threshold - i.value) / t.slope_per_year
            when i.verdict = 'fail' and i.op in ('<=', '<') and t.slope_per_year < 0
                then (i.value - i.threshold) / -t.slope_per_year
        end as years_needed,
        p.projection_horizon_years as horizon
    from county_item_verdicts i
    left join trend t using (county_code, item)
    join policy_province p on p.province_code = i.province_code
    where i.year = getvariable('run_year')
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
