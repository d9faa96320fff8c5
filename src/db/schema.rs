// The database schema, shared by SQLite and PostgreSQL (portable column types only).
// Kept by hand in step with `migrations/`; a test checks both engines accept it.

diesel::table! {
    schools (id) {
        id -> BigInt,
        code -> Text,
        name -> Text,
        created_at -> Timestamp,
        session_idle_minutes -> Integer,
        session_lifetime_hours -> Integer,
        mfa_roles -> Text,
        password_login -> Bool,
        oidc_issuer -> Nullable<Text>,
        oidc_client_id -> Nullable<Text>,
        oidc_client_secret -> Nullable<Text>,
        phone -> Text,
        email -> Text,
        address -> Text,
        logo_url -> Nullable<Text>,
        follow_ups_since -> Nullable<Date>,
    }
}

diesel::table! {
    year_groups (id) {
        id -> BigInt,
        school_id -> BigInt,
        year -> SmallInt,
        name -> Text,
    }
}

diesel::table! {
    houses (id) {
        id -> BigInt,
        school_id -> BigInt,
        name -> Text,
    }
}

diesel::table! {
    staff (id) {
        id -> BigInt,
        school_id -> BigInt,
        email -> Text,
        name -> Text,
        password_hash -> Nullable<Text>,
        active -> Bool,
        created_at -> Timestamp,
        digest_hour -> Nullable<SmallInt>,
    }
}

diesel::table! {
    staff_roles (staff_id, role) {
        staff_id -> BigInt,
        role -> Text,
        school_id -> BigInt,
    }
}

diesel::table! {
    staff_year_groups (staff_id, year_group_id) {
        staff_id -> BigInt,
        year_group_id -> BigInt,
        school_id -> BigInt,
    }
}

diesel::table! {
    staff_houses (staff_id, house_id) {
        staff_id -> BigInt,
        house_id -> BigInt,
        school_id -> BigInt,
    }
}

diesel::table! {
    forms (id) {
        id -> BigInt,
        school_id -> BigInt,
        year_group_id -> BigInt,
        name -> Text,
        tutor_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    pupils (id) {
        id -> BigInt,
        school_id -> BigInt,
        upn -> Text,
        given_name -> Text,
        family_name -> Text,
        year_group_id -> BigInt,
        form_id -> BigInt,
        house_id -> Nullable<BigInt>,
        sen_status -> Text,
        level -> SmallInt,
        level_since -> Timestamp,
        programme_block -> Nullable<SmallInt>,
        had_plan -> Bool,
        programme_without_impact -> Bool,
        created_at -> Timestamp,
        last_incident_at -> Nullable<Timestamp>,
        date_of_birth -> Nullable<Date>,
        left_on -> Nullable<Date>,
        history_stamp -> BigInt,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> BigInt,
        school_id -> BigInt,
        staff_id -> BigInt,
        token_hash -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        name -> Text,
        expires_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sessions (id) {
        id -> BigInt,
        key_hash -> Text,
        state -> Text,
        staff_id -> Nullable<BigInt>,
        school_id -> Nullable<BigInt>,
        device -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    login_failures (key_hash) {
        key_hash -> Text,
        failures -> Integer,
        last_failed_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    second_factors (id) {
        id -> BigInt,
        school_id -> BigInt,
        staff_id -> BigInt,
        secret -> Text,
        created_at -> Timestamp,
        confirmed_at -> Nullable<Timestamp>,
        last_used_step -> Nullable<BigInt>,
    }
}

diesel::table! {
    recovery_codes (id) {
        id -> BigInt,
        staff_id -> BigInt,
        code_hash -> Text,
        created_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    school_closures (id) {
        id -> BigInt,
        school_id -> BigInt,
        starts_on -> Date,
        ends_on -> Date,
        kind -> Text,
        name -> Text,
    }
}

diesel::table! {
    policies (id) {
        id -> BigInt,
        school_id -> BigInt,
        version -> Integer,
        body -> Text,
        created_at -> Timestamp,
        created_by -> Nullable<BigInt>,
    }
}

diesel::table! {
    incidents (id) {
        id -> BigInt,
        school_id -> BigInt,
        reported_by -> BigInt,
        occurred_at -> Timestamp,
        behaviour -> Text,
        severity -> Text,
        response -> Text,
        location -> Nullable<Text>,
        lesson -> Nullable<Text>,
        note -> Nullable<Text>,
        created_at -> Timestamp,
        voided_at -> Nullable<Timestamp>,
        edited_at -> Nullable<Timestamp>,
        imported -> Bool,
        import_key -> Nullable<Text>,
    }
}

diesel::table! {
    incident_pupils (incident_id, pupil_id) {
        incident_id -> BigInt,
        pupil_id -> BigInt,
        school_id -> BigInt,
        occurred_at -> Timestamp,
    }
}

diesel::table! {
    suggestions (id) {
        id -> BigInt,
        school_id -> BigInt,
        pupil_id -> BigInt,
        from_level -> SmallInt,
        to_level -> SmallInt,
        rule -> Text,
        reason -> Text,
        evidence -> Text,
        status -> Text,
        policy_version -> Integer,
        created_at -> Timestamp,
        decided_by -> Nullable<BigInt>,
        decided_at -> Nullable<Timestamp>,
        decision_note -> Nullable<Text>,
        snoozed_until -> Nullable<Date>,
    }
}

diesel::table! {
    level_changes (id) {
        id -> BigInt,
        school_id -> BigInt,
        pupil_id -> BigInt,
        from_level -> SmallInt,
        to_level -> SmallInt,
        reason -> Text,
        changed_by -> Nullable<BigInt>,
        suggestion_id -> Nullable<BigInt>,
        is_override -> Bool,
        occurred_at -> Timestamp,
    }
}

diesel::table! {
    meetings (id) {
        id -> BigInt,
        school_id -> BigInt,
        pupil_id -> BigInt,
        level -> SmallInt,
        due_on -> Date,
        status -> Text,
        starts_at -> Nullable<Timestamp>,
        duration_minutes -> Nullable<Integer>,
        location -> Nullable<Text>,
        parent_invited -> Bool,
        held_at -> Nullable<Timestamp>,
        summary -> Nullable<Text>,
        goals_met -> Nullable<Bool>,
        created_at -> Timestamp,
        sequence -> Integer,
        cancel_reason -> Nullable<Text>,
        follow_up -> Nullable<Text>,
        successes -> Nullable<Text>,
        challenges -> Nullable<Text>,
        focus -> Nullable<Text>,
        action_steps -> Nullable<Text>,
        next_step -> Nullable<Text>,
        purpose -> Text,
        due_from -> Nullable<Date>,
        due_school_days -> Nullable<Integer>,
    }
}

diesel::table! {
    meeting_guests (id) {
        id -> BigInt,
        meeting_id -> BigInt,
        school_id -> BigInt,
        name -> Text,
        email -> Nullable<Text>,
        role -> Text,
        response -> Nullable<Text>,
        response_note -> Nullable<Text>,
        responded_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    pupil_contacts (id) {
        id -> BigInt,
        school_id -> BigInt,
        pupil_id -> BigInt,
        name -> Text,
        relationship -> Text,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        invited -> Bool,
        position -> Integer,
    }
}

diesel::table! {
    meeting_participants (meeting_id, staff_id) {
        meeting_id -> BigInt,
        staff_id -> BigInt,
        school_id -> BigInt,
    }
}

diesel::table! {
    outbox (id) {
        id -> BigInt,
        school_id -> BigInt,
        message_key -> Text,
        recipient -> Text,
        subject -> Text,
        body_text -> Text,
        body_html -> Nullable<Text>,
        calendar_ics -> Nullable<Text>,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        lease_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        staff_id -> Nullable<BigInt>,
        topic -> Text,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        school_id -> BigInt,
        actor_id -> Nullable<BigInt>,
        action -> Text,
        entity -> Text,
        entity_id -> Nullable<BigInt>,
        detail -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    behaviours (id) {
        id -> BigInt,
        school_id -> BigInt,
        name -> Text,
        serious -> Bool,
        position -> Integer,
        active -> Bool,
    }
}

diesel::table! {
    idempotency_keys (id) {
        id -> BigInt,
        school_id -> BigInt,
        staff_id -> BigInt,
        idempotency_key -> Text,
        request_hash -> Text,
        status_code -> Integer,
        response_body -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    conversations (id) {
        id -> BigInt,
        school_id -> BigInt,
        pupil_id -> BigInt,
        held_by -> BigInt,
        held_at -> Timestamp,
        with_whom -> Nullable<Text>,
        what_happened -> Text,
        what_got_in_the_way -> Nullable<Text>,
        what_could_help -> Nullable<Text>,
        plan_next_time -> Text,
        good_for_everyone -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    conversation_incidents (conversation_id, incident_id) {
        conversation_id -> BigInt,
        incident_id -> BigInt,
        school_id -> BigInt,
    }
}

diesel::table! {
    coaching_plans (id) {
        id -> BigInt,
        school_id -> BigInt,
        pupil_id -> BigInt,
        version -> Integer,
        meeting_id -> Nullable<BigInt>,
        goals -> Text,
        pathway_to_independence -> Text,
        action_steps -> Text,
        review_on -> Date,
        agreed_with -> Nullable<Text>,
        created_by -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    programme_blocks (id) {
        id -> BigInt,
        school_id -> BigInt,
        pupil_id -> BigInt,
        plan_id -> Nullable<BigInt>,
        weeks -> SmallInt,
        starts_on -> Date,
        ends_on -> Date,
        sessions_per_week -> Integer,
        weekdays -> Text,
        minutes -> Integer,
        session_time -> Nullable<Text>,
        place -> Text,
        led_by -> Text,
        practitioner_id -> Nullable<BigInt>,
        practitioner_name -> Nullable<Text>,
        lost_to_closures -> Text,
        status -> Text,
        decision -> Nullable<Text>,
        decision_reason -> Nullable<Text>,
        delivered_at_review -> Nullable<Integer>,
        planned_at_review -> Nullable<Integer>,
        reviewed_at -> Nullable<Timestamp>,
        reviewed_by -> Nullable<BigInt>,
        created_by -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    programme_sessions (id) {
        id -> BigInt,
        school_id -> BigInt,
        block_id -> BigInt,
        pupil_id -> BigInt,
        on_date -> Date,
        session_time -> Nullable<Text>,
        is_final -> Bool,
        outcome -> Nullable<Text>,
        minutes -> Nullable<Integer>,
        delivered_by -> Nullable<Text>,
        note -> Nullable<Text>,
        reason -> Nullable<Text>,
        parent_attended -> Nullable<Bool>,
        recorded_by -> Nullable<BigInt>,
        recorded_at -> Nullable<Timestamp>,
        recorded_by_family -> Nullable<BigInt>,
    }
}

diesel::table! {
    provision_items (id) {
        id -> BigInt,
        school_id -> BigInt,
        pupil_id -> BigInt,
        what -> Text,
        external -> Bool,
        provider_name -> Text,
        frequency_per_week -> Integer,
        session_minutes -> Integer,
        starts_on -> Date,
        review_on -> Date,
        ends_on -> Date,
        cost_per_session_pence -> BigInt,
        entry_data -> Text,
        target -> Text,
        exit_data -> Nullable<Text>,
        outcome -> Nullable<Text>,
        status -> Text,
        created_by -> BigInt,
        created_at -> Timestamp,
        ended_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    provision_reviews (id) {
        id -> BigInt,
        school_id -> BigInt,
        item_id -> BigInt,
        reviewed_on -> Date,
        assessment -> Text,
        progress -> Text,
        next_plan -> Nullable<Text>,
        decision -> Text,
        next_review_on -> Nullable<Date>,
        reviewed_by -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    school_day_groups (school_id, day, dimension, grouping) {
        school_id -> BigInt,
        day -> Date,
        dimension -> Text,
        grouping -> Text,
        incidents -> Integer,
    }
}

diesel::table! {
    pupil_day_incidents (pupil_id, day) {
        pupil_id -> BigInt,
        day -> Date,
        school_id -> BigInt,
        incidents -> Integer,
    }
}

diesel::table! {
    school_timetables (school_id) {
        school_id -> BigInt,
        week_a_starts -> Nullable<Date>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    lesson_periods (id) {
        id -> BigInt,
        school_id -> BigInt,
        week -> Nullable<Text>,
        weekday -> SmallInt,
        name -> Text,
        starts_minute -> SmallInt,
        ends_minute -> SmallInt,
    }
}

diesel::table! {
    teaching_groups (id) {
        id -> BigInt,
        school_id -> BigInt,
        source_id -> Text,
        name -> Text,
        subject -> Nullable<Text>,
        periods -> Text,
    }
}

diesel::table! {
    teaching_group_teachers (group_id, staff_id) {
        group_id -> BigInt,
        staff_id -> BigInt,
        school_id -> BigInt,
    }
}

diesel::table! {
    teaching_group_members (group_id, pupil_id) {
        group_id -> BigInt,
        pupil_id -> BigInt,
        school_id -> BigInt,
    }
}

diesel::table! {
    retention_periods (school_id, record_kind) {
        school_id -> BigInt,
        record_kind -> Text,
        keep_years -> Integer,
        updated_at -> Timestamp,
        updated_by -> Nullable<BigInt>,
    }
}

diesel::table! {
    erased_incident_facts (id) {
        id -> BigInt,
        school_id -> BigInt,
        occurred_at -> Timestamp,
        behaviour -> Text,
        location -> Nullable<Text>,
        lesson -> Nullable<Text>,
        reported_by -> BigInt,
        erased_at -> Timestamp,
    }
}

diesel::table! {
    erased_level_moves (id) {
        id -> BigInt,
        school_id -> BigInt,
        occurred_at -> Timestamp,
        from_level -> SmallInt,
        to_level -> SmallInt,
        changed_by -> Nullable<BigInt>,
        year -> SmallInt,
        erased_at -> Timestamp,
    }
}

diesel::table! {
    erased_step_impacts (id) {
        id -> BigInt,
        school_id -> BigInt,
        level -> SmallInt,
        entered_on -> Date,
        before_from -> Date,
        before_to -> Date,
        after_from -> Date,
        after_to -> Date,
        school_days -> Integer,
        incidents_before -> Integer,
        incidents_after -> Integer,
        year -> SmallInt,
        delivered_by -> Nullable<BigInt>,
        erased_at -> Timestamp,
    }
}

diesel::joinable!(year_groups -> schools (school_id));
diesel::joinable!(houses -> schools (school_id));
diesel::table! {
    account_links (id) {
        id -> BigInt,
        school_id -> BigInt,
        staff_id -> BigInt,
        purpose -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    family_links (id) {
        id -> BigInt,
        school_id -> BigInt,
        pupil_id -> BigInt,
        purpose -> Text,
        token_hash -> Text,
        guest_id -> Nullable<BigInt>,
        plan_id -> Nullable<BigInt>,
        block_id -> Nullable<BigInt>,
        name -> Text,
        email -> Nullable<Text>,
        created_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        revoked_by -> Nullable<BigInt>,
        acknowledged_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(family_links -> schools (school_id));
diesel::joinable!(family_links -> pupils (pupil_id));
diesel::joinable!(family_links -> meeting_guests (guest_id));
diesel::joinable!(family_links -> coaching_plans (plan_id));
diesel::joinable!(family_links -> programme_blocks (block_id));
diesel::joinable!(staff -> schools (school_id));
diesel::joinable!(sessions -> schools (school_id));
diesel::joinable!(staff_roles -> staff (staff_id));
diesel::joinable!(staff_roles -> schools (school_id));
diesel::joinable!(staff_year_groups -> staff (staff_id));
diesel::joinable!(staff_year_groups -> year_groups (year_group_id));
diesel::joinable!(staff_year_groups -> schools (school_id));
diesel::joinable!(staff_houses -> staff (staff_id));
diesel::joinable!(staff_houses -> houses (house_id));
diesel::joinable!(staff_houses -> schools (school_id));
diesel::joinable!(forms -> schools (school_id));
diesel::joinable!(forms -> year_groups (year_group_id));
diesel::joinable!(forms -> staff (tutor_id));
diesel::joinable!(pupils -> schools (school_id));
diesel::joinable!(pupils -> year_groups (year_group_id));
diesel::joinable!(pupils -> forms (form_id));
diesel::joinable!(pupils -> houses (house_id));
diesel::joinable!(api_tokens -> schools (school_id));
diesel::joinable!(api_tokens -> staff (staff_id));
diesel::joinable!(school_closures -> schools (school_id));
diesel::joinable!(policies -> schools (school_id));
diesel::joinable!(policies -> staff (created_by));
diesel::joinable!(incidents -> schools (school_id));
diesel::joinable!(incidents -> staff (reported_by));
diesel::joinable!(incident_pupils -> incidents (incident_id));
diesel::joinable!(incident_pupils -> pupils (pupil_id));
diesel::joinable!(incident_pupils -> schools (school_id));
diesel::joinable!(suggestions -> schools (school_id));
diesel::joinable!(suggestions -> pupils (pupil_id));
diesel::joinable!(suggestions -> staff (decided_by));
diesel::joinable!(level_changes -> schools (school_id));
diesel::joinable!(level_changes -> pupils (pupil_id));
diesel::joinable!(level_changes -> staff (changed_by));
diesel::joinable!(level_changes -> suggestions (suggestion_id));
diesel::joinable!(meetings -> schools (school_id));
diesel::joinable!(meetings -> pupils (pupil_id));
diesel::joinable!(meeting_participants -> meetings (meeting_id));
diesel::joinable!(meeting_participants -> staff (staff_id));
diesel::joinable!(meeting_participants -> schools (school_id));
diesel::joinable!(outbox -> schools (school_id));
diesel::joinable!(meeting_guests -> meetings (meeting_id));
diesel::joinable!(pupil_contacts -> pupils (pupil_id));
diesel::joinable!(pupil_contacts -> schools (school_id));
diesel::joinable!(audit_log -> schools (school_id));
diesel::joinable!(audit_log -> staff (actor_id));
diesel::joinable!(behaviours -> schools (school_id));
diesel::joinable!(idempotency_keys -> staff (staff_id));
diesel::joinable!(conversations -> pupils (pupil_id));
diesel::joinable!(conversations -> staff (held_by));
diesel::joinable!(conversation_incidents -> conversations (conversation_id));
diesel::joinable!(conversation_incidents -> incidents (incident_id));
diesel::joinable!(coaching_plans -> pupils (pupil_id));
diesel::joinable!(programme_blocks -> pupils (pupil_id));
diesel::joinable!(programme_sessions -> programme_blocks (block_id));
diesel::joinable!(programme_sessions -> pupils (pupil_id));
diesel::joinable!(provision_items -> pupils (pupil_id));
diesel::joinable!(provision_reviews -> provision_items (item_id));
diesel::joinable!(pupil_day_incidents -> pupils (pupil_id));
diesel::joinable!(account_links -> staff (staff_id));
diesel::joinable!(account_links -> schools (school_id));
diesel::joinable!(school_timetables -> schools (school_id));
diesel::joinable!(lesson_periods -> schools (school_id));
diesel::joinable!(teaching_groups -> schools (school_id));
diesel::joinable!(teaching_group_members -> teaching_groups (group_id));
diesel::joinable!(teaching_group_members -> pupils (pupil_id));
diesel::joinable!(teaching_group_teachers -> teaching_groups (group_id));
diesel::joinable!(teaching_group_teachers -> staff (staff_id));

diesel::allow_tables_to_appear_in_same_query!(
    schools,
    year_groups,
    houses,
    staff,
    staff_roles,
    staff_year_groups,
    staff_houses,
    forms,
    pupils,
    api_tokens,
    sessions,
    login_failures,
    second_factors,
    recovery_codes,
    school_closures,
    policies,
    incidents,
    incident_pupils,
    suggestions,
    level_changes,
    meetings,
    meeting_participants,
    meeting_guests,
    pupil_contacts,
    outbox,
    audit_log,
    behaviours,
    idempotency_keys,
    conversations,
    conversation_incidents,
    coaching_plans,
    programme_blocks,
    programme_sessions,
    provision_items,
    provision_reviews,
    pupil_day_incidents,
    school_day_groups,
    account_links,
    family_links,
    school_timetables,
    lesson_periods,
    teaching_groups,
    teaching_group_members,
    teaching_group_teachers,
    retention_periods,
    erased_incident_facts,
    erased_level_moves,
    erased_step_impacts,
);
