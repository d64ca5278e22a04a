// The instructor's profile: the address where lessons "at the instructor's place" happen
// (copied into each such booking as it is made, seen only by its student) and the bio
// students read; saved with PATCH /api/v1/instructors/me.
import * as rest from "./api.js";
import { busy, el, errorBox } from "./ui.js";

export function profileEditor() {
  const address = el("input", { id: "profile-address", name: "address", "data-field": "address", maxlength: 300,
    autocomplete: "street-address", "aria-describedby": "profile-address-hint" });
  const bio = el("textarea", { id: "profile-bio", name: "bio", "data-field": "bio", rows: 3, maxlength: 5000 });
  const save = el("button", { type: "submit", class: "primary" }, "Save profile");
  const saved = el("p", { class: "note", "aria-live": "polite" });
  const error = errorBox("profile-error");
  const form = el("form", { id: "profile-form", "aria-labelledby": "profile-title" },
    el("h2", { id: "profile-title" }, "Your profile"),
    el("label", { for: "profile-address" }, "Your address (for lessons at your place)"), address,
    el("p", { class: "hint", id: "profile-address-hint" },
      "Shown only to the students of lessons at your place, in lessons booked from now on."),
    el("label", { for: "profile-bio" }, "About you (students see this)"), bio,
    save, error, saved,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    saved.textContent = "";
    busy(save, error, async () => {
      fill(await rest.updateMyProfile({ address: address.value.trim(), bio: bio.value.trim() }));
      saved.textContent = "Profile saved.";
    }, form);
  });

  function fill(profile) {
    address.value = profile.address ?? "";
    bio.value = profile.bio ?? "";
  }

  return { root: el("section", { class: "card profile" }, form), fill };
}
