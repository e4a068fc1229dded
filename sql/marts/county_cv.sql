-- county_cv: the inter-school variation coefficient (差异系数) per county, level and indicator.
--
-- Enrolment-weighted, population form (教督〔2017〕6号; published worked example):
--     P_i = students of unit i,  P = Σ P_i
--     X̄  = Σ P_i·x_i / P          (= Σ resource / Σ students, the county aggregate ratio)
--     S  = sqrt( Σ (P_i/P)·(x_i − X̄)² )
--     CV = S / X̄
-- One unit: CV = 0. X̄ = 0: CV undefined (null, with the reason), never a division error.
-- Compared with the ceiling at full precision; reports print 3 decimals and flag values
-- within near_threshold_band of the ceiling.
with v as (
    select * from unit_indicator_values
    where year = getvariable('run_year') and value is not null
),

county as (
    select
        year, province_code, county_code, level, indicator,
        any_value(province) as province,
        any_value(county_name) as county_name,
        sum(students) as students,
        count(*) as units,
        -- ordered sums: floating-point addition is not associative, and a fixed order makes
        -- reruns give the same bits whatever the thread schedule
        sum(students * value order by school_id) / sum(students) as county_value
    from v
    group by all
),

deviation as (
    select
        year, province_code, county_code, level, indicator,
        sum(v.students * (v.value - c.county_value) ^ 2 order by v.school_id) as weighted_squared_deviation
    from v
    join county c using (year, province_code, county_code, level, indicator)
    group by all
),

cv as (
    select
        c.*,
        case
            when c.county_value = 0 then null
            when c.units = 1 then 0.0
            else sqrt(d.weighted_squared_deviation / c.students) / c.county_value
        end as cv,
        case when c.county_value = 0 then 'county_value_zero' end as cv_undefined_reason
    from county c
    join deviation d using (year, province_code, county_code, level, indicator)
)

select
    cv.year, cv.province, cv.province_code, cv.county_code, cv.county_name, cv.level, cv.indicator,
    d.indicator_name,
    cv.county_value, cv.cv,
    round(cv.cv, p.cv_display_decimals::int) as cv_rounded,
    t.cv_threshold,
    cv.cv <= t.cv_threshold * (1 + p.relative_tolerance) as cv_meets,
    abs(cv.cv - t.cv_threshold) <= p.near_threshold_band as near_threshold,
    cv.cv_undefined_reason,
    t.cv_threshold_rule as threshold_rule,
    cv.units::int as units,
    cv.students::bigint as students
from cv
join policy_level_thresholds t
    on t.province_code = cv.province_code and t.level = cv.level and t.indicator = cv.indicator
join policy_province p on p.province_code = cv.province_code
join dim_indicators d on d.indicator = cv.indicator
