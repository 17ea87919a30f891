package simulator

// Word lists for generated chat nights. Handles and names are invented.

var regulars = []string{
	"nurse_amy", "drmike_md", "patient_advocate_jo", "healthit_sam", "cmio_priya", "pharm_dave",
	"carelead_lin", "epatient_ben", "rn_kate", "hospital_cfo_raj", "design4health", "caregiver_maria",
	"infosec_rita", "pt_voice_tom", "digital_nurse_ana", "hcmarketer_lee", "ehr_whisperer", "public_health_kim",
	"telehealth_gus", "quality_queen", "med_student_ola", "chaplain_ed", "rural_doc_sue", "data_dr_wei",
}

var firstNames = []string{"alex", "casey", "dana", "eli", "fran", "gabe", "hana", "ivan", "jules", "kofi", "luz", "mo"}

var roles = []string{"rn", "md", "pharmd", "pt", "ux", "it", "admin", "student"}

type topic struct {
	title     string
	questions []string
}

var topics = []topic{
	{"patient experience in the ED", []string{
		"What makes an emergency department visit feel safe for patients?",
		"How can we shorten waiting without cutting corners?",
		"What role should family caregivers play in the ED?",
		"Which small gesture from staff made a difference for you?",
		"How do we measure experience beyond surveys?",
		"What would you change first, tomorrow?",
		"How can technology help without getting in the way?",
		"What is one thing leaders should hear tonight?",
	}},
	{"burnout and joy in healthcare work", []string{
		"What drains you most during a shift?",
		"What brings you joy at work?",
		"How can leaders protect time for recovery?",
		"Does the EHR help or hurt wellbeing?",
		"What peer support works in your organization?",
		"How do we talk about burnout with patients?",
		"What should we stop doing?",
		"One commitment you make for next week?",
	}},
	{"interoperability and patient access to data", []string{
		"Can you get your own health records easily today?",
		"What is the biggest barrier to sharing data between systems?",
		"How should apps earn patients' trust?",
		"What did FHIR change for you, if anything?",
		"Who should own the patient record?",
		"How do we keep privacy while sharing more?",
		"What would a great patient portal do?",
		"What should vendors hear from this community?",
	}},
}

var answers = []string{
	"Clear communication at every step, even when the news is bad.",
	"Honestly, listening. Just listening.",
	"Involve patients and families in the design from day one.",
	"Leaders who round and actually change things afterwards.",
	"Protected time. Without it nothing else sticks.",
	"Technology that works offline and in plain language.",
	"Measure what matters to patients, not what is easy to count.",
	"Peer support circles have helped our unit a lot.",
	"Start small, share wins, repeat.",
	"Transparency about costs and waiting times.",
	"Make the right thing the easy thing in the EHR.",
	"Trust is built in the small moments.",
}

var replies = []string{
	"so true!", "+1, we saw the same in our clinic.", "love this answer.", "how did you get buy-in for that?",
	"great point, thanks for sharing.", "agree, and it needs funding too.", "we tried this, happy to share notes.",
	"this is the way.", "could not agree more.", "what did patients say?",
}

var quotes = []string{
	"This. Read this thread.", "Important point here:", "Sharing for my team:", "Worth a follow:",
}

var chatter = []string{
	"Hello everyone, joining from Toronto!", "First time here, excited to learn.", "Late again, catching up now.",
	"Great energy tonight", "Thanks for hosting!", "Lurking and learning tonight.", "Such a timely topic",
}

var links = []string{
	"https://www.ahrq.gov/patient-safety/index.html", "https://www.who.int/health-topics/patient-safety",
	"https://www.hl7.org/fhir/overview.html", "https://www.ihi.org/resources",
}
