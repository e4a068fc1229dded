-- Government-assurance measures computed from the school table rather than typed in:
-- school size, class size, music and art rooms; and the share of units meeting the school
-- standard. Special-education schools are not counted; teaching points are counted for class
-- size but not for school size or special rooms (they have neither the size nor the classes).
-- A measure is null (insufficient data) when a school it needs did not report the input.
with s as (
    select st.*, p.*  exclude (province_code),
           st.primary_classes + st.junior_classes as classes,
           st.primary_students + st.junior_students as compulsory_students
    from stg_schools st
    join policy_province p on p.province_code = st.province_code
    where st.year = getvariable('run_year') and st.school_type <> '{{ special_education }}'
),

per_school as (
    select
        year, province_code, county_code, school_id, school_type,
        compulsory_students > case when list_contains(combined_types, school_type)
                                   then max_combined_school_students else max_school_students end
            as over_size,
        -- class size: unknown when a level with students has no largest-class figure
        case
            when (primary_students > 0 and primary_max_class_size is null)
              or (junior_students > 0 and junior_max_class_size is null) then null
            else coalesce(primary_students > 0 and primary_max_class_size > max_class_primary, false)
              or coalesce(junior_students > 0 and junior_max_class_size > max_class_junior, false)
        end as over_class_size,
        case
            when school_type = '{{ teaching_point }}' then false
            when music_rooms is null or art_rooms is null then null
            when music_rooms * classes_per_special_room < classes
              or art_rooms * classes_per_special_room < classes then true
            when music_rooms > 0 and music_room_min_area_m2 is null then null
            when art_rooms > 0 and art_room_min_area_m2 is null then null
            else coalesce(music_rooms > 0 and music_room_min_area_m2 < min_music_room_m2, false)
              or coalesce(art_rooms > 0 and art_room_min_area_m2 < min_art_room_m2, false)
        end as short_of_rooms
    from s
),

units as (
    select year, province_code, county_code,
           100.0 * avg(meets_school_standard::int) as share_units_meeting_standard_pct,
           count(*) filter (where meets_school_standard is null) as units_undecided
    from school_indicators
    where year = getvariable('run_year')
    group by all
)

select
    c.year, c.province_code, c.county_code,
    count(*) filter (where c.over_size) as schools_over_size,
    case when count(*) filter (where c.over_class_size is null) = 0
         then count(*) filter (where c.over_class_size) end as schools_over_class_size,
    case when count(*) filter (where c.short_of_rooms is null) = 0
         then count(*) filter (where c.short_of_rooms) end as schools_short_of_music_art_rooms,
    case when any_value(u.units_undecided) = 0 then any_value(u.share_units_meeting_standard_pct) end
        as share_units_meeting_standard_pct
from per_school c
left join units u using (year, province_code, county_code)
group by c.year, c.province_code, c.county_code
