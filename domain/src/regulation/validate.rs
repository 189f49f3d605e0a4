//! Reading a regulation file and checking it whole: what serde cannot check — durations, order,
//! channels and their legs, references, attributes, the kinds of steps, and (format 2) the
//! refusal rules. A file that fails any check is refused with the field named.

use std::collections::BTreeSet;

use super::*;

impl Regulation {
    /// Parses and validates a new regulation file: as [`Regulation::parse`], and it must be of
    /// the current format ([`CURRENT_FORMAT`]). Stored versions of an older format are read
    /// with [`Regulation::parse`].
    pub fn parse_new(file: &str, text: &str) -> Result<Regulation, RegulationError> {
        let r = Regulation::parse(file, text)?;
        if r.format != CURRENT_FORMAT {
            return Err(RegulationError {
                file: file.to_owned(),
                field: "format".into(),
                reason: format!(
                    "a new regulation file must be format = {CURRENT_FORMAT} (refusals as rules, legs with only the time the act states); found {}",
                    r.format
                ),
            });
        }
        Ok(r)
    }

    /// Parses and validates one regulation file.
    pub fn parse(file: &str, text: &str) -> Result<Regulation, RegulationError> {
        let err = |field: String, reason: String| RegulationError {
            file: file.to_owned(),
            field,
            reason,
        };
        let de =
            toml::Deserializer::parse(text).map_err(|e| err("(file)".into(), e.to_string()))?;
        let regulation: Regulation = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let message = inner.message().to_owned();
            let at = inner
                .span()
                .map(|s| {
                    format!(
                        " (at line {})",
                        1 + text[..s.start.min(text.len())].matches('\n').count()
                    )
                })
                .unwrap_or_default();
            err(
                if path == "." { "(file)".into() } else { path },
                format!("{message}{at}"),
            )
        })?;
        regulation
            .validate()
            .map_err(|(field, reason)| err(field, reason))?;
        Ok(regulation)
    }

    /// Checks everything serde cannot: durations, order, channels and their legs, references.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let fail = |f: &str, r: String| Err((f.to_owned(), r));
        let code_like = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        };
        if !code_like(&self.code) {
            return fail(
                "code",
                format!(
                    "{:?} must be lowercase letters, digits and dashes",
                    self.code
                ),
            );
        }
        if !code_like(&self.service) {
            return fail(
                "service",
                format!(
                    "{:?} must be lowercase letters, digits and dashes",
                    self.service
                ),
            );
        }
        for (f, v) in [("name_kk", &self.name_kk), ("name_en", &self.name_en)] {
            if v.trim().is_empty() {
                return fail(f, "must not be empty".into());
            }
        }
        if self.provider_kinds.is_empty() {
            return fail(
                "provider_kinds",
                "at least one provider kind is required".into(),
            );
        }
        for (i, k) in self.provider_kinds.iter().enumerate() {
            if !PROVIDER_KINDS.contains(&k.as_str()) {
                return fail(
                    &format!("provider_kinds[{i}]"),
                    format!("unknown kind {k:?}; expected one of {PROVIDER_KINDS:?}"),
                );
            }
        }
        if self.apply_channels.is_empty() {
            return fail("apply_channels", "at least one channel is required".into());
        }
        if self.result_channels.is_empty() {
            return fail("result_channels", "at least one channel is required".into());
        }
        if self.results.is_empty() {
            return fail("results", "at least one result is required".into());
        }
        if self.steps.is_empty() {
            return fail("steps", "at least one step is required".into());
        }
        let mut result_codes = BTreeSet::new();
        for (i, r) in self.results.iter().enumerate() {
            if !result_codes.insert(r.code.as_str()) {
                return fail(
                    &format!("results[{i}].code"),
                    format!("duplicate {:?}", r.code),
                );
            }
        }
        for (i, s) in self.steps.iter().enumerate() {
            let at = |f: &str| format!("steps[{i}].{f}");
            if s.order != i as u32 + 1 {
                return fail(
                    &at("order"),
                    format!("expected {}, found {}", i + 1, s.order),
                );
            }
            if s.duration.value == 0 {
                return fail(
                    &at("duration.value"),
                    "a duration must be at least 1".into(),
                );
            }
            for (j, v) in s.variants.iter().enumerate() {
                if v.duration.value == 0 {
                    return fail(
                        &at(&format!("variants[{j}].duration.value")),
                        "a duration must be at least 1".into(),
                    );
                }
            }
            for (f, v) in [
                ("action_kk", &s.action_kk),
                ("action_en", &s.action_en),
                ("output_en", &s.output_en),
            ] {
                if v.trim().is_empty() {
                    return fail(&at(f), "must not be empty".into());
                }
            }
            for issued in &s.issues {
                if !result_codes.contains(issued.as_str()) {
                    return fail(
                        &at("issues"),
                        format!("{issued:?} is not one of results[].code"),
                    );
                }
            }
        }
        self.validate_kinds()?;
        self.validate_attributes()?;
        if let Some(t) = &self.legal_term {
            if t.value == 0 {
                return fail("legal_term.value", "a duration must be at least 1".into());
            }
        }
        for (i, w) in self.acceptance_windows.iter().enumerate() {
            parse_md(&w.from).map_err(|r| (format!("acceptance_windows[{i}].from"), r))?;
            parse_md(&w.until).map_err(|r| (format!("acceptance_windows[{i}].until"), r))?;
        }
        let uses =
            |c: Channel| self.apply_channels.contains(&c) || self.result_channels.contains(&c);
        match (&self.corporation, uses(Channel::StateCorporation)) {
            (None, true) => {
                return fail(
                    "corporation",
                    "the State Corporation is a channel, so its legs (intake, transfer_to_provider, result_back, issue, storage, return_to_provider, redelivery) are required".into(),
                )
            }
            (Some(_), false) => {
                return fail("corporation", "legs given but the State Corporation is not a channel".into())
            }
            (Some(c), true) => {
                for (f, leg) in [
                    ("intake", &c.intake),
                    ("transfer_to_provider", &c.transfer_to_provider),
                    ("result_back", &c.result_back),
                    ("issue", &c.issue),
                    ("return_to_provider", &c.return_to_provider),
                    ("redelivery", &c.redelivery),
                ] {
                    if leg.value == Some(0) {
                        return fail(&format!("corporation.{f}.value"), "a duration must be at least 1".into());
                    }
                    if leg.value.is_some() != leg.unit.is_some() {
                        return fail(&format!("corporation.{f}"), "value and unit come together".into());
                    }
                    if self.format >= 2 && leg.stated != leg.duration().is_some() {
                        return fail(
                            &format!("corporation.{f}"),
                            if leg.stated {
                                "a stated leg needs the duration the act states (value and unit)".into()
                            } else {
                                "a leg whose duration the act does not state carries none: it adds no time to the case".into()
                            },
                        );
                    }
                }
                if c.storage_months == 0 {
                    return fail("corporation.storage_months", "must be at least 1".into());
                }
            }
            (None, false) => {}
        }
        match (&self.portal, uses(Channel::Portal)) {
            (None, true) => {
                return fail(
                    "portal",
                    "the portal is a channel, so portal processing is required".into(),
                )
            }
            (Some(_), false) => {
                return fail("portal", "given but the portal is not a channel".into())
            }
            (Some(p), true) => {
                if p.request_processing.is_some_and(|d| d.value == 0) {
                    return fail(
                        "portal.request_processing.value",
                        "a duration must be at least 1".into(),
                    );
                }
            }
            (None, false) => {}
        }
        for (i, r) in self.refusals.iter().enumerate() {
            for c in &r.channels {
                if !self.apply_channels.contains(c) {
                    return fail(
                        &format!("refusals[{i}].channels"),
                        format!("{c:?} is not an apply channel"),
                    );
                }
            }
        }
        if !(1..=CURRENT_FORMAT).contains(&self.format) {
            return fail(
                "format",
                format!(
                    "{} is not a known format (1 to {CURRENT_FORMAT})",
                    self.format
                ),
            );
        }
        if self.format >= 2 {
            self.validate_refusal_rules()?;
        }
        Ok(())
    }

    /// Format 2: every refusal says who gives it, on which grounds and where the act says so,
    /// and no two rules answer the same question.
    fn validate_refusal_rules(&self) -> Result<(), (String, String)> {
        let fail = |i: usize, f: &str, r: String| Err((format!("refusals[{i}].{f}"), r));
        for (i, r) in self.refusals.iter().enumerate() {
            let Some(by) = r.by else {
                return fail(
                    i,
                    "by",
                    "say who refuses: STATE_CORPORATION or PROVIDER".into(),
                );
            };
            if r.paragraph.as_deref().is_none_or(|p| p.trim().is_empty()) {
                return fail(i, "paragraph", "cite the paragraph of the act".into());
            }
            if r.grounds.is_empty() || r.channels.is_empty() {
                return fail(
                    i,
                    "grounds",
                    "name at least one ground and one channel".into(),
                );
            }
            let allowed: &[RefusalGround] = match r.kind {
                RefusalCode::IntakeRefusal => &[
                    RefusalGround::IncompletePackage,
                    RefusalGround::ExpiredDocuments,
                ],
                RefusalCode::ReasonedRefusal => &[RefusalGround::StandardGrounds],
            };
            if let Some(g) = r.grounds.iter().find(|g| !allowed.contains(g)) {
                return fail(
                    i,
                    "grounds",
                    format!("{g:?} is not a ground of a {:?}", r.kind),
                );
            }
            if r.kind == RefusalCode::ReasonedRefusal && by != RefusedBy::Provider {
                return fail(i, "by", "a reasoned refusal is the provider's".into());
            }
            if by == RefusedBy::StateCorporation
                && r.channels.iter().any(|c| *c != Channel::StateCorporation)
            {
                return fail(
                    i,
                    "channels",
                    "the State Corporation refuses only cases on its own channel".into(),
                );
            }
            if r.all_grounds && r.grounds.len() < 2 {
                return fail(i, "all_grounds", "needs two grounds or more".into());
            }
            for (j, other) in self.refusals.iter().enumerate().take(i) {
                if other.kind == r.kind
                    && other.by == r.by
                    && other.channels.iter().any(|c| r.channels.contains(c))
                {
                    return fail(i, "channels", format!("overlaps refusals[{j}]"));
                }
            }
        }
        Ok(())
    }

    /// Attributes: defaults among the values; variants name declared values; a leg inside a step
    /// names an ISSUE step.
    fn validate_attributes(&self) -> Result<(), (String, String)> {
        for (i, a) in self.attributes.iter().enumerate() {
            if a.values.is_empty() || !a.values.contains(&a.default) {
                return Err((
                    format!("attributes[{i}].default"),
                    format!("{:?} is not one of the values {:?}", a.default, a.values),
                ));
            }
        }
        for (i, s) in self.steps.iter().enumerate() {
            for (j, v) in s.variants.iter().enumerate() {
                let declared = self.attribute(&v.attribute);
                if !declared.is_some_and(|d| d.values.contains(&v.equals)) {
                    return Err((
                        format!("steps[{i}].variants[{j}]"),
                        format!(
                            "{} = {:?} is not a declared attribute value ([[attributes]])",
                            v.attribute, v.equals
                        ),
                    ));
                }
            }
        }
        if let Some(c) = &self.corporation {
            if let Some(order) = c.result_back.within_step {
                if !self
                    .steps
                    .iter()
                    .any(|s| s.order == order && s.kind == StepKind::Issue)
                {
                    return Err((
                        "corporation.result_back.within_step".into(),
                        format!("step {order} is not this regulation's ISSUE step"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Kinds of steps: in their mailboxes, in life-cycle order, with exactly one intake.
    fn validate_kinds(&self) -> Result<(), (String, String)> {
        for (i, s) in self.steps.iter().enumerate() {
            if !s.kind.allowed_mailboxes().contains(&s.mailbox) {
                return Err((
                    format!("steps[{i}].kind"),
                    format!(
                        "a {:?} step cannot sit in the {:?} mailbox",
                        s.kind, s.mailbox
                    ),
                ));
            }
        }
        // Kinds must come in the life-cycle order (each at most once), with exactly one intake.
        let mut last: Option<StepKind> = None;
        for (i, s) in self.steps.iter().enumerate() {
            if last.is_some_and(|l| l >= s.kind) {
                return Err((
                    format!("steps[{i}].kind"),
                    format!("{:?} is out of order or repeated", s.kind),
                ));
            }
            last = Some(s.kind);
        }
        let has = |k: StepKind| self.steps.iter().any(|s| s.kind == k);
        if !has(StepKind::Intake) {
            return Err(("steps".into(), "exactly one INTAKE step is required".into()));
        }
        for (needs, what) in [
            (StepKind::Prepare, StepKind::Resolution),
            (StepKind::Sign, StepKind::Prepare),
            (StepKind::Issue, StepKind::Sign),
        ] {
            if has(needs) != has(what) {
                return Err((
                    "steps".into(),
                    format!("{needs:?} and {what:?} steps come together"),
                ));
            }
        }
        let corp_steps = has(StepKind::CorporationIntake)
            || has(StepKind::CorporationTransfer)
            || has(StepKind::CorporationIssue);
        if corp_steps && !self.apply_channels.contains(&Channel::StateCorporation) {
            return Err((
                "steps".into(),
                "State Corporation steps without the State Corporation channel".into(),
            ));
        }
        Ok(())
    }
}
