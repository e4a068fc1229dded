-- The inter-school variation coefficient (差异系数) of every county, level, method and
-- indicator. This is the only place the CV formula is written; county_cv (优质均衡) and
-- county_basic_balance (基本均衡) both read it.
--
-- Enrolment-weighted, population form (教督〔2017〕6号; published worked example):
--     P_i = students of unit i,  P = Σ P_i
--     X̄  = Σ P_i·x_i / P          (= Σ resource / Σ students, the county aggregate ratio,
--                                   not the mean of the school ratios)
--     S  = sqrt( Σ (P_i/P)·(x_i − X̄)² )
--     CV = S / X̄
-- One unit: CV = 0. X̄ = 0: CV undefined (null, with the reason), never a division error.
-- Units whose value is undefined (a missing input) are left out and not counted in `units`.
--
-- All indicators at once, straight from unit_indicators' columns: `columns(* exclude (keys))`
-- applies an expression to every indicator column, and the per-indicator results travel as
-- lists in the column order (element i is the i-th indicator column).
--
-- One pass over the units: Σ P·(x − X̄)² = Σ P·x² − X̄·Σ P·x, so the sums Σ P, Σ P·x and Σ P·x²
-- of a county are all it needs (a second pass, joining every unit back to its county's X̄, took
-- 0.58 s a national year against 0.42 s). The sums are exact, so reruns give the same bits:
-- floating-point addition is not associative, and a plain parallel sum could differ in its last
-- bits between reruns. Each term is rounded to 12 decimal places as a 128-bit integer (its value
-- × 10¹²) and the integers are summed: fixed-point decimals, 12 places, do the same, but casting
-- a double to a decimal costs twice as long (0.31 s against 0.20 s for the model, a national year).
-- The subtraction is in doubles and loses about log10((1 + CV²)/CV²) of their ~16 digits: a CV
-- of 0.01 is still right to 11 significant digits (tested). A difference within the doubles' rounding
-- (1e-14 of Σ P·x², a few times it; units all at one value) is taken as 0, not as a trace of
-- rounding: a CV under 1e-7 is 0.
with u as (
    select * from unit_indicators where year = getvariable('run_year')
),

indicator_names as (
    select list(column_name order by column_index) as names
    from duckdb_columns()
    where database_name = current_database() and schema_name = 'main' and table_name = 'unit_indicators'
      and column_name not in ('year', 'province_code', 'county_code', 'school_id', 'level', 'students')
),

-- per county and level: Σ P·x, Σ P·x², Σ P and the number of units, over the units with a value
sums as (
    select
        year, province_code, county_code, level,
        sum((students * columns(* exclude (year, province_code, county_code, school_id, level, students)) * 1e12)
            ::hugeint) / 1e12 as 'px_\0',
        sum((students * columns(* exclude (year, province_code, county_code, school_id, level, students)) ^ 2 * 1e12)
            ::hugeint) / 1e12 as 'pxx_\0',
        sum(case when columns(* exclude (year, province_code, county_code, school_id, level, students))
                 is not null then students end) as 'p_\0',
        count(columns(* exclude (year, province_code, county_code, school_id, level, students))) as 'n_\0'
    from u
    group by all
),

packed as (
    select year, province_code, county_code, level, list_value(*columns('^px_')) as px,
           list_value(*columns('^pxx_')) as pxx, list_value(*columns('^p_')) as students,
           list_value(*columns('^n_')) as units
    from sums
),

-- one row per county, level and indicator with a value: X̄ and Σ P·(x − X̄)²
long as (
    select c.year, c.province_code, c.county_code, c.level, n.names[g.i] as indicator,
           c.students[g.i] as students, c.units[g.i] as units, c.px[g.i] / c.students[g.i] as county_value,
           c.pxx[g.i] - county_value * c.px[g.i] as deviation,
           case when deviation <= 1e-14 * c.pxx[g.i] then 0.0 else deviation end as weighted_squared_deviation
    from packed c
    cross join indicator_names n
    cross join range(1, len(n.names) + 1) g(i)
    where c.units[g.i] > 0
)

select
    c.year, c.province_code, c.county_code, c.level, d.method, c.indicator,
    names.province, names.county_name, c.students, c.units, c.county_value,
    case
        when c.county_value = 0 then null
        when c.units = 1 then 0.0
        else sqrt(c.weighted_squared_deviation / c.students) / c.county_value
    end as cv,
    case when c.county_value = 0 then 'county_value_zero' end as cv_undefined_reason
from long c
join dim_indicators d on d.indicator = c.indicator
join (
    select county_code, min(province) as province, min(county_name) as county_name
    from school_units where year = getvariable('run_year') group by county_code
) names using (county_code)
