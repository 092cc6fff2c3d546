"""Demo data for the communications app: component descriptions, a confirmed subscriber, and
enterprise accounts with contacts and a success manager. Called from incidents.demo before the
demo incidents are declared, so a SEV-1 affecting an enterprise customer opens its notice."""

from django.utils import timezone

from incidents.models import Customer, Service

from .models import CustomerContact, EnterpriseAccount, Subscriber

DEMO_COMPONENT_DESCRIPTIONS = {
    "API": "The public REST API",
    "Dashboard": "The web dashboard",
    "Billing": "Card payments and invoices",
    "Authentication": "Sign-in and login emails",
    "Webhooks": "Outgoing webhook deliveries",
}
DEMO_CONTACTS = {
    "Northwind Traders": [("Nora Lind", "it-ops@northwind.example")],
    "Globex": [("Hank Scorpio", "noc@globex.example")],
}
DEMO_SUBSCRIBER = "status-watcher@example.org"


def demo_data_load(*, success_manager) -> None:
    for service in Service.objects.filter(name__in=DEMO_COMPONENT_DESCRIPTIONS):
        service.description = DEMO_COMPONENT_DESCRIPTIONS[service.name]
        service.save(update_fields=["description", "updated_at"])
    for customer in Customer.objects.filter(name__in=DEMO_CONTACTS, is_enterprise=True):
        EnterpriseAccount.objects.get_or_create(
            customer=customer, defaults={"success_manager": success_manager}
        )
        for name, email in DEMO_CONTACTS[customer.name]:
            CustomerContact.objects.get_or_create(
                customer=customer, email=email, defaults={"name": name}
            )
    Subscriber.objects.get_or_create(
        email=DEMO_SUBSCRIBER,
        defaults={"all_components": True, "confirmed_at": timezone.now()},
    )
