from django import forms

from .selectors import public_component_list


class ComponentChoiceForm(forms.Form):
    all_components = forms.TypedChoiceField(
        choices=[("1", "All components, including ones added later"), ("0", "Only these:")],
        coerce=lambda value: value == "1",
        widget=forms.RadioSelect,
        initial="1",
        label="Send me updates about",
    )
    components = forms.ModelMultipleChoiceField(
        queryset=public_component_list(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Components",
    )


class SubscribeForm(ComponentChoiceForm):
    email = forms.EmailField(label="Email address")

    field_order = ["email", "all_components", "components"]
