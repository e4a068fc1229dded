-- county_cv: the 14 variation coefficients of 优质均衡 per county (7 indicators × 2 levels),
-- each against its ceiling (0.50 primary, 0.45 junior by default). The CV itself is computed
-- in intermediate/county_variation.sql. Compared at full precision; reports print 3 decimals
-- and flag values within near_threshold_band of the ceiling.
select
    cv.year, cv.province, cv.province_code, cv.county_code, cv.county_name, cv.level, cv.indicator,
    d.indicator_name,
    cv.county_value,
    cv.cv,
    round(cv.cv, p.cv_display_decimals::int) as cv_rounded,
    t.cv_threshold,
    cv.cv <= t.cv_threshold * (1 + p.relative_tolerance) as cv_meets,
    abs(cv.cv - t.cv_threshold) <= p.near_threshold_band as near_threshold,
    cv.cv_undefined_reason,
    t.cv_threshold_rule as threshold_rule,
    cv.units::int as units,
    cv.students::bigint as students,
    -- units of this county and level whose rows were quarantined: left out of this CV
    coalesce(case cv.level when 'primary' then c.units_quarantined_primary
                           else c.units_quarantined_junior end, 0)::int as units_quarantined
from county_variation cv
left join county_completeness c
    on c.year = cv.year and c.county_code = cv.county_code
join policy_level_thresholds t
    on t.province_code = cv.province_code and t.level = cv.level and t.indicator = cv.indicator
join policy_province p on p.province_code = cv.province_code
join dim_indicators d on d.method = cv.method and d.indicator = cv.indicator
where cv.year = getvariable('run_year') and cv.method = 'quality_2017'
