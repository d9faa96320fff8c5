//! Staff accounts, their roles and responsibilities, and their API tokens.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::models::StaffRow;
use super::schema::{houses, staff, staff_houses, staff_roles, staff_year_groups, year_groups};
use super::{schools, to_db_time, DbConnection};
use crate::domain::details::{EmailAddress, PersonName, YearNumber};
use crate::domain::paging::{Page, PageRequest};
use crate::domain::Role;
use crate::error::{Error, Result};

/// A staff member with their roles and the year groups and houses they lead.
#[derive(Debug, Clone)]
pub struct StaffMember {
    pub id: i64,
    pub school_id: i64,
    pub email: String,
    pub name: String,
    pub roles: Vec<Role>,
    pub year_groups: Vec<i16>,
    /// The ids of the houses they lead (a Head of House); see [`super::pastoral`].
    pub houses: Vec<i64>,
}

impl StaffMember {
    /// Whether the member holds `role`.
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Whether the member holds any of `roles`.
    pub fn has_any_role(&self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.has_role(*r))
    }
}

/// A new staff account's details, checked.
pub struct NewStaff<'a> {
    pub school_id: i64,
    pub email: &'a EmailAddress,
    pub name: &'a PersonName,
    pub roles: &'a [Role],
    pub year_groups: &'a [YearNumber],
    pub password_hash: Option<String>,
}

/// Creates a staff account with its roles and led year groups.
pub fn create(
    conn: &mut DbConnection,
    new: NewStaff<'_>,
    now: DateTime<Utc>,
) -> Result<StaffMember> {
    if new.roles.is_empty() {
        return Err(Error::invalid(
            "role",
            "a staff member needs at least one role",
        ));
    }
    let taken = staff::table
        .filter(staff::email.eq(new.email.as_str()))
        .count()
        .get_result::<i64>(conn)?;
    if taken > 0 {
        return Err(Error::conflict(
            "email",
            "an account with this email already exists",
        ));
    }
    let staff_id: i64 = diesel::insert_into(staff::table)
        .values((
            staff::school_id.eq(new.school_id),
            staff::email.eq(new.email.as_str()),
            staff::name.eq(new.name.as_str()),
            staff::password_hash.eq(new.password_hash),
            staff::active.eq(true),
            staff::created_at.eq(to_db_time(now)),
        ))
        .returning(staff::id)
        .get_result(conn)?;
    let row: StaffRow = staff::table
        .find(staff_id)
        .select(StaffRow::as_select())
        .first(conn)?;
    let mut roles = new.roles.to_vec();
    roles.sort();
    roles.dedup();
    for role in &roles {
        diesel::insert_into(staff_roles::table)
            .values((
                staff_roles::staff_id.eq(row.id),
                staff_roles::role.eq(role.as_str()),
                staff_roles::school_id.eq(new.school_id),
            ))
            .execute(conn)?;
    }
    let mut years: Vec<i16> = Vec::new();
    for year in new.year_groups {
        if years.contains(&year.get()) {
            continue;
        }
        let group = schools::year_group(conn, new.school_id, *year)?;
        diesel::insert_into(staff_year_groups::table)
            .values((
                staff_year_groups::staff_id.eq(row.id),
                staff_year_groups::year_group_id.eq(group.id),
                staff_year_groups::school_id.eq(new.school_id),
            ))
            .execute(conn)?;
        years.push(year.get());
    }
    years.sort_unstable();
    Ok(StaffMember {
        id: row.id,
        school_id: row.school_id,
        email: row.email,
        name: row.name,
        roles,
        year_groups: years,
        houses: Vec::new(),
    })
}

/// The account with this email in any school, active or not, with its roles: an import
/// matches people by email.
pub fn by_email(conn: &mut DbConnection, email: &EmailAddress) -> Result<Option<StaffMember>> {
    let row: Option<StaffRow> = staff::table
        .filter(staff::email.eq(email.as_str()))
        .select(StaffRow::as_select())
        .first(conn)
        .optional()?;
    match row {
        Some(row) => Ok(with_responsibilities(conn, vec![row])?.pop()),
        None => Ok(None),
    }
}

/// Gives a member of staff roles they do not hold yet (none is taken away).
pub fn add_roles(conn: &mut DbConnection, member: &StaffMember, roles: &[Role]) -> Result<()> {
    for role in roles.iter().filter(|r| !member.has_role(**r)) {
        diesel::insert_into(staff_roles::table)
            .values((
                staff_roles::staff_id.eq(member.id),
                staff_roles::role.eq(role.as_str()),
                staff_roles::school_id.eq(member.school_id),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The active account with this email, with its password hash, for signing in.
pub fn find_for_login(conn: &mut DbConnection, email: &str) -> Result<Option<StaffRow>> {
    Ok(staff::table
        .filter(staff::email.eq(email.trim().to_lowercase()))
        .filter(staff::active.eq(true))
        .select(StaffRow::as_select())
        .first(conn)
        .optional()?)
}

/// The active staff member with this id in this school.
pub fn get_member(
    conn: &mut DbConnection,
    school_id: i64,
    staff_id: i64,
) -> Result<Option<StaffMember>> {
    let row: Option<StaffRow> = staff::table
        .filter(staff::id.eq(staff_id))
        .filter(staff::school_id.eq(school_id))
        .filter(staff::active.eq(true))
        .select(StaffRow::as_select())
        .get_result(conn)
        .optional()?;
    match row {
        Some(row) => Ok(with_responsibilities(conn, vec![row])?.pop()),
        None => Ok(None),
    }
}

/// The school's active staff, by name, optionally only those holding `role`.
pub fn list(
    conn: &mut DbConnection,
    school_id: i64,
    role: Option<Role>,
) -> Result<Vec<StaffMember>> {
    let rows: Vec<StaffRow> = match role {
        Some(role) => staff::table
            .inner_join(staff_roles::table)
            .filter(staff::school_id.eq(school_id))
            .filter(staff::active.eq(true))
            .filter(staff_roles::role.eq(role.as_str()))
            .order((staff::name.asc(), staff::id.asc()))
            .select(StaffRow::as_select())
            .load(conn)?,
        None => staff::table
            .filter(staff::school_id.eq(school_id))
            .filter(staff::active.eq(true))
            .order((staff::name.asc(), staff::id.asc()))
            .select(StaffRow::as_select())
            .load(conn)?,
    };
    with_responsibilities(conn, rows)
}

/// Where a member of staff sorts in a paged list of staff: name, then id.
pub type StaffKey = (String, i64);

/// One page of the school's active staff (only those holding `role`, when given), by name
/// and id, after the member whose key the request holds.
pub fn page(
    conn: &mut DbConnection,
    school_id: i64,
    role: Option<Role>,
    request: &PageRequest<StaffKey>,
) -> Result<Page<StaffMember>> {
    let mut query = staff::table
        .filter(staff::school_id.eq(school_id))
        .filter(staff::active.eq(true))
        .order((staff::name.asc(), staff::id.asc()))
        .limit(request.fetch_i64())
        .select(StaffRow::as_select())
        .into_boxed();
    if let Some(role) = role {
        let holding = staff_roles::table
            .filter(staff_roles::role.eq(role.as_str()))
            .select(staff_roles::staff_id);
        query = query.filter(staff::id.eq_any(holding));
    }
    if let Some((name, id)) = request.after.clone() {
        query = query.filter(
            staff::name
                .gt(name.clone())
                .or(staff::name.eq(name).and(staff::id.gt(id))),
        );
    }
    let rows = request.cut(query.load(conn)?, |row: &StaffRow| {
        (row.name.clone(), row.id)
    });
    Ok(Page {
        items: with_responsibilities(conn, rows.items)?,
        next: rows.next,
    })
}

/// Attaches roles and led year groups and houses to staff rows, in three queries whatever
/// their number.
fn with_responsibilities(conn: &mut DbConnection, rows: Vec<StaffRow>) -> Result<Vec<StaffMember>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut roles: HashMap<i64, Vec<Role>> = HashMap::new();
    for (staff_id, role) in staff_roles::table
        .filter(staff_roles::staff_id.eq_any(&ids))
        .select((staff_roles::staff_id, staff_roles::role))
        .load::<(i64, String)>(conn)?
    {
        if let Ok(role) = Role::parse(&role) {
            roles.entry(staff_id).or_default().push(role);
        }
    }
    let mut years: HashMap<i64, Vec<i16>> = HashMap::new();
    for (staff_id, year) in staff_year_groups::table
        .inner_join(year_groups::table)
        .filter(staff_year_groups::staff_id.eq_any(&ids))
        .select((staff_year_groups::staff_id, year_groups::year))
        .load::<(i64, i16)>(conn)?
    {
        years.entry(staff_id).or_default().push(year);
    }
    let mut houses: HashMap<i64, Vec<i64>> = HashMap::new();
    for (staff_id, house_id) in staff_houses::table
        .filter(staff_houses::staff_id.eq_any(&ids))
        .select((staff_houses::staff_id, staff_houses::house_id))
        .load::<(i64, i64)>(conn)?
    {
        houses.entry(staff_id).or_default().push(house_id);
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let mut member_roles = roles.remove(&row.id).unwrap_or_default();
            member_roles.sort();
            let mut member_years = years.remove(&row.id).unwrap_or_default();
            member_years.sort_unstable();
            let mut member_houses = houses.remove(&row.id).unwrap_or_default();
            member_houses.sort_unstable();
            StaffMember {
                id: row.id,
                school_id: row.school_id,
                email: row.email,
                name: row.name,
                roles: member_roles,
                year_groups: member_years,
                houses: member_houses,
            }
        })
        .collect())
}

/// How long a staff member, with their roles, year groups and houses, is kept once read for
/// an API request. Whether their token and account still work is checked on every request;
/// a change of roles made through another instance shows within this time.
const MEMBERS_KEPT_FOR: std::time::Duration = std::time::Duration::from_secs(30);

/// Staff members kept briefly by id: every API request is authenticated, and reading a
/// member with their responsibilities is four queries. One cache belongs to one
/// [`super::Database`].
#[derive(Clone)]
pub struct MemberCache {
    entries: moka::sync::Cache<i64, StaffMember>,
}

impl Default for MemberCache {
    fn default() -> Self {
        MemberCache {
            entries: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(MEMBERS_KEPT_FOR)
                .build(),
        }
    }
}

impl MemberCache {
    /// The member with this id, when read lately.
    pub fn get(&self, staff_id: i64) -> Option<StaffMember> {
        self.entries.get(&staff_id)
    }

    /// Keeps a member as just read.
    pub fn keep(&self, member: StaffMember) {
        self.entries.insert(member.id, member);
    }

    /// Forgets one member of staff, whose account or roles just changed.
    pub fn forget_staff(&self, staff_id: i64) {
        self.entries.invalidate(&staff_id);
    }

    /// Forgets every member (after an import that may change many people).
    pub fn forget_all(&self) {
        self.entries.invalidate_all();
    }
}

/// The stored password hash of an active account, when it has one.
pub fn password_hash_of(
    conn: &mut DbConnection,
    school_id: i64,
    staff_id: i64,
) -> Result<Option<String>> {
    Ok(staff::table
        .filter(staff::id.eq(staff_id))
        .filter(staff::school_id.eq(school_id))
        .filter(staff::active.eq(true))
        .select(staff::password_hash)
        .first::<Option<String>>(conn)
        .optional()?
        .flatten())
}

/// Sets a person's password (its argon2 hash) and ends their sessions, all but the session
/// `keep` (their own, when they change it themselves).
pub fn set_password(
    conn: &mut DbConnection,
    school_id: i64,
    staff_id: i64,
    password_hash: &str,
    keep: Option<i64>,
) -> Result<()> {
    let changed = diesel::update(
        staff::table
            .filter(staff::id.eq(staff_id))
            .filter(staff::school_id.eq(school_id)),
    )
    .set(staff::password_hash.eq(Some(password_hash)))
    .execute(conn)?;
    if changed == 0 {
        return Err(Error::NotFound("staff member"));
    }
    super::sign_in::end_all(conn, school_id, staff_id, keep)?;
    Ok(())
}

/// A staff account as the staff page shows it: open or closed, with every responsibility.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffAccount {
    pub id: i64,
    pub email: String,
    pub name: String,
    /// Sorted.
    pub roles: Vec<Role>,
    /// The year groups they lead, sorted.
    pub year_groups: Vec<i16>,
    /// The houses they lead, sorted by name.
    pub houses: Vec<String>,
    /// Whether the account may sign in and use its tokens.
    pub active: bool,
    /// Whether a password has been chosen.
    pub has_password: bool,
}

/// Every account of the school, open and closed, by name.
pub fn accounts(conn: &mut DbConnection, school_id: i64) -> Result<Vec<StaffAccount>> {
    let rows: Vec<StaffRow> = staff::table
        .filter(staff::school_id.eq(school_id))
        .order((staff::name.asc(), staff::id.asc()))
        .select(StaffRow::as_select())
        .load(conn)?;
    let active: HashMap<i64, (bool, bool)> = rows
        .iter()
        .map(|r| (r.id, (r.active, r.password_hash.is_some())))
        .collect();
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut house_names: HashMap<i64, Vec<String>> = HashMap::new();
    for chunk in ids.chunks(500) {
        for (staff_id, house) in staff_houses::table
            .inner_join(houses::table)
            .filter(staff_houses::staff_id.eq_any(chunk))
            .select((staff_houses::staff_id, houses::name))
            .load::<(i64, String)>(conn)?
        {
            house_names.entry(staff_id).or_default().push(house);
        }
    }
    Ok(with_responsibilities(conn, rows)?
        .into_iter()
        .map(|member| {
            let (active, has_password) = active.get(&member.id).copied().unwrap_or_default();
            let mut houses = house_names.remove(&member.id).unwrap_or_default();
            houses.sort();
            StaffAccount {
                id: member.id,
                email: member.email,
                name: member.name,
                roles: member.roles,
                year_groups: member.year_groups,
                houses,
                active,
                has_password,
            }
        })
        .collect())
}

/// One account of the school, open or closed.
pub fn account(conn: &mut DbConnection, school_id: i64, staff_id: i64) -> Result<StaffAccount> {
    let belongs: i64 = staff::table
        .filter(staff::id.eq(staff_id))
        .filter(staff::school_id.eq(school_id))
        .count()
        .get_result(conn)?;
    if belongs == 0 {
        return Err(Error::NotFound("staff member"));
    }
    accounts(conn, school_id)?
        .into_iter()
        .find(|a| a.id == staff_id)
        .ok_or(Error::NotFound("staff member"))
}

/// Creates an open account without a password (one is chosen through an invitation) and
/// without responsibilities yet; answers its id. An address already used by any account of
/// the deployment is refused.
pub fn insert_account(
    conn: &mut DbConnection,
    school_id: i64,
    email: &EmailAddress,
    name: &PersonName,
    now: DateTime<Utc>,
) -> Result<i64> {
    let taken = staff::table
        .filter(staff::email.eq(email.as_str()))
        .count()
        .get_result::<i64>(conn)?;
    if taken > 0 {
        return Err(Error::conflict(
            "email",
            "an account with this email already exists",
        ));
    }
    Ok(diesel::insert_into(staff::table)
        .values((
            staff::school_id.eq(school_id),
            staff::email.eq(email.as_str()),
            staff::name.eq(name.as_str()),
            staff::password_hash.eq(None::<String>),
            staff::active.eq(true),
            staff::created_at.eq(to_db_time(now)),
        ))
        .returning(staff::id)
        .get_result(conn)?)
}

/// Renames a member of staff.
pub fn set_name(
    conn: &mut DbConnection,
    school_id: i64,
    staff_id: i64,
    name: &PersonName,
) -> Result<()> {
    diesel::update(
        staff::table
            .filter(staff::id.eq(staff_id))
            .filter(staff::school_id.eq(school_id)),
    )
    .set(staff::name.eq(name.as_str()))
    .execute(conn)?;
    Ok(())
}

/// Replaces a member of staff's roles (at least one).
pub fn set_roles(
    conn: &mut DbConnection,
    school_id: i64,
    staff_id: i64,
    roles: &[Role],
) -> Result<()> {
    if roles.is_empty() {
        return Err(Error::invalid(
            "roles",
            "a member of staff needs at least one role",
        ));
    }
    diesel::delete(staff_roles::table.filter(staff_roles::staff_id.eq(staff_id))).execute(conn)?;
    let mut roles = roles.to_vec();
    roles.sort();
    roles.dedup();
    for role in roles {
        diesel::insert_into(staff_roles::table)
            .values((
                staff_roles::staff_id.eq(staff_id),
                staff_roles::role.eq(role.as_str()),
                staff_roles::school_id.eq(school_id),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Replaces the year groups a member of staff leads (created when the school has none yet).
pub fn set_year_groups(
    conn: &mut DbConnection,
    school_id: i64,
    staff_id: i64,
    years: &[YearNumber],
) -> Result<()> {
    diesel::delete(staff_year_groups::table.filter(staff_year_groups::staff_id.eq(staff_id)))
        .execute(conn)?;
    let mut years = years.to_vec();
    years.sort();
    years.dedup();
    for year in years {
        let group = schools::year_group(conn, school_id, year)?;
        diesel::insert_into(staff_year_groups::table)
            .values((
                staff_year_groups::staff_id.eq(staff_id),
                staff_year_groups::year_group_id.eq(group.id),
                staff_year_groups::school_id.eq(school_id),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Replaces the houses a member of staff leads, by name (created when the school has none
/// of that name yet).
pub fn set_houses(
    conn: &mut DbConnection,
    school_id: i64,
    staff_id: i64,
    names: &[String],
) -> Result<()> {
    let house_ids = names
        .iter()
        .map(|name| schools::house(conn, school_id, name))
        .collect::<Result<Vec<i64>>>()?;
    super::pastoral::set_houses(conn, school_id, staff_id, &house_ids)
}

/// Opens or closes an account. A closed account cannot sign in or use its API tokens, and
/// keeps everything it did; its unused password links stop working.
pub fn set_active(
    conn: &mut DbConnection,
    school_id: i64,
    staff_id: i64,
    active: bool,
    now: DateTime<Utc>,
) -> Result<()> {
    let changed = diesel::update(
        staff::table
            .filter(staff::id.eq(staff_id))
            .filter(staff::school_id.eq(school_id)),
    )
    .set(staff::active.eq(active))
    .execute(conn)?;
    if changed == 0 {
        return Err(Error::NotFound("staff member"));
    }
    if !active {
        super::account_links::revoke_all(conn, staff_id, now)?;
        super::sign_in::end_all(conn, school_id, staff_id, None)?;
    }
    Ok(())
}
